// Generated from the Rust wire types in src/protocol/ by `cargo test --lib`: do not edit by hand.
// Change the Rust type, run `cargo test --lib`, and commit the result.

export type JsonValue = number | string | boolean | Array<JsonValue> | { [key in string]: JsonValue } | null;

/**
 * One keyset page. `nextCursor` is null on the last page.
 */
export type Page<T> = { items: Array<T>, nextCursor: string | null, };

export type Health = { ok: boolean, version: string, database: DatabaseHealth, };

export type DatabaseHealth = { ok: boolean, latencyMs: number | null, error: string | null, };

/**
 * The body of every error response.
 */
export type ErrorBody = { error: ErrorDetail, };

export type ErrorDetail = { 
/**
 * Stable and machine-readable, like `invalid_phone`.
 */
code: string, 
/**
 * Written for the person reading it.
 */
message: string, };
