// Generated from the Rust wire types in src/protocol/ by `cargo test --lib`: do not edit by hand.
// Change the Rust type, run `cargo test --lib`, and commit the result.
import type { JsonValue } from './meta.ts';

export type AuditEntry = { id: number, actorId: string | null, action: string, target: string, detail: JsonValue, at: string, };
