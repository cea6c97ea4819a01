// Generated from the Rust wire types in src/protocol/ by `cargo test --lib`: do not edit by hand.
// Change the Rust type, run `cargo test --lib`, and commit the result.

export type RegisterRequest = { phone: string, displayName: string, password: string, };

export type LoginRequest = { phone: string, password: string, };

/**
 * A user as they see themselves, and as admins see everyone.
 */
export type Account = { isAdmin: boolean, 
/**
 * Who may add them to groups (see `PATCH /auth/me`).
 */
groupAdds: GroupAdds, id: string, phone: string, displayName: string, createdAt: string, lastSeenAt: string | null, 
/**
 * At least one of their sockets is open.
 */
online: boolean, };

/**
 * Who may add a user to groups. Someone already in a group stays, whatever this says.
 */
export type GroupAdds = "everyone" | "contacts" | "nobody";

/**
 * `PATCH /auth/me`: the account's settings to change.
 */
export type UpdateAccountRequest = { 
/**
 * Who may add this user to groups.
 */
groupAdds: GroupAdds, };

export type AuthResponse = { user: Account, token: string, expiresAt: string, };
