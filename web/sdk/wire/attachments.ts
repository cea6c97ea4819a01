// Generated from the Rust wire types in src/protocol/ by `cargo test --lib`: do not edit by hand.
// Change the Rust type, run `cargo test --lib`, and commit the result.

/**
 * `POST /conversations/:id/attachments`: reserves an upload of `size` bytes of ciphertext.
 */
export type CreateAttachmentRequest = { 
/**
 * The ciphertext's exact size in bytes (the file's size plus the 16-byte GCM tag).
 */
size: number, };

/**
 * An upload just reserved, and how to send it.
 */
export type AttachmentUpload = { id: string, conversationId: string, 
/**
 * The ciphertext's size, as reserved.
 */
size: number, 
/**
 * The size of every part but the last, which is the rest.
 */
partSize: number, 
/**
 * Parts to send, numbered from 1.
 */
parts: number, };

/**
 * A finished upload.
 */
export type AttachmentView = { id: string, conversationId: string, uploaderId: string, size: number, createdAt: string, };
