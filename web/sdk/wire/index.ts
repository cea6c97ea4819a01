// Generated from the Rust wire types in src/protocol/ by `cargo test --lib`: do not edit by hand.
// Change the Rust type, run `cargo test --lib`, and commit the result.

export type * from './admin.ts';
export type * from './attachments.ts';
export type * from './auth.ts';
export type * from './conversations.ts';
export type * from './devices.ts';
export type * from './events.ts';
export type * from './links.ts';
export type * from './messages.ts';
export type * from './meta.ts';
export type * from './push.ts';
export type * from './routes.ts';
export type * from './users.ts';
export * from './constants.ts';
