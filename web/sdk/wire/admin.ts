// Generated from the Rust wire types in src/protocol/ by `cargo test --lib`: do not edit by hand.
// Change the Rust type, run `cargo test --lib`, and commit the result.
import type { JsonValue } from './meta.ts';

export type AuditEntry = { id: number, actorId: string | null, action: string, target: string, detail: JsonValue, at: string, };

/**
 * GET /admin/stats: live counts for the admin page, read from the database when asked.
 */
export type AdminStats = { 
/**
 * Accounts that exist (deleted accounts' tombstones are not counted).
 */
users: number, 
/**
 * Accounts with at least one open socket now: the presence each user's hub records when
 * their first socket opens and clears when their last one closes.
 */
onlineNow: number, 
/**
 * Application messages stored since midnight UTC (MLS commits and Welcomes are not counted).
 */
messagesToday: number, 
/**
 * Signed-in sessions that have not expired or been ended: each may hold open sockets. The
 * number of open sockets itself lives only in each user's hub, which is asked nothing here.
 */
activeSessions: number, 
/**
 * When the counts were read.
 */
at: string, };
