// Generated from the Rust wire types in src/protocol/ by `cargo test --lib`: do not edit by hand.
// Change the Rust type, run `cargo test --lib`, and commit the result.
import type { DeviceView } from './devices.ts';

/**
 * What every signed-in user may see of another user.
 */
export type UserSummary = { id: string, phone: string, displayName: string, createdAt: string, lastSeenAt: string | null, 
/**
 * At least one of their sockets is open.
 */
online: boolean, };

/**
 * A user's public profile: who they are and the public key material of each of their devices.
 */
export type Profile = { devices: Array<DeviceView>, id: string, phone: string, displayName: string, createdAt: string, lastSeenAt: string | null, 
/**
 * At least one of their sockets is open.
 */
online: boolean, };
