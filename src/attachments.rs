//! The R2 side of attachments: where an upload's ciphertext lives in the ATTACHMENTS bucket, and
//! deleting uploads, whichever path decided it (a cancel, the sweep, a message deleted for
//! everyone or expired). The rows and the rules are in `db::attachments`.

use uuid::Uuid;

/// The R2 binding that holds every upload's ciphertext.
pub const BUCKET_BINDING: &str = "ATTACHMENTS";

/// The object an upload is written to. Only the upload's random id: no conversation, user or name.
pub fn object_key(id: Uuid) -> String {
    format!("attachments/{id}")
}

#[cfg(target_arch = "wasm32")]
pub use glue::*;

#[cfg(target_arch = "wasm32")]
mod glue {
    use super::{object_key, BUCKET_BINDING};
    use crate::db::attachments::{self, Doomed};
    use crate::db::Client;
    use crate::error::{log_error, ApiError, ApiResult};
    use uuid::Uuid;
    use worker::{Bucket, Env};

    pub fn bucket(env: &Env) -> ApiResult<Bucket> {
        env.bucket(BUCKET_BINDING).map_err(|_| {
            ApiError::misconfigured(format!(
                "The R2 binding {BUCKET_BINDING} is missing from the Worker's configuration."
            ))
        })
    }

    /// The answer when R2 fails: worth another try, like a database that does not answer.
    pub fn storage_unavailable(context: &str, e: worker::Error) -> ApiError {
        log_error(context, &e.to_string());
        ApiError::new(503, "storage_unavailable", "The file store is not answering. Please try again shortly.")
    }

    /// Deletes the R2 side of uploads already marked `deleting`, then their rows: an unfinished
    /// upload's parts (by aborting it) and the object itself, which a completion racing the
    /// deletion may have written. Rows whose R2 side could not be deleted stay `deleting`, and the
    /// next sweep tries again. Returns how many went.
    pub async fn purge(db: &Client, bucket: &Bucket, doomed: &[Doomed]) -> ApiResult<u64> {
        if doomed.is_empty() {
            return Ok(0);
        }
        let mut gone: Vec<Uuid> = Vec::with_capacity(doomed.len());
        for upload in doomed {
            if let Some(upload_id) = &upload.upload_id {
                // An upload already completed or aborted cannot be aborted again; the object
                // deletion below covers the first case, and there is nothing left in the second.
                if let Ok(multipart) = bucket.resume_multipart_upload(object_key(upload.id), upload_id) {
                    let _ = multipart.abort().await;
                }
            }
            gone.push(upload.id);
        }
        let keys: Vec<String> = gone.iter().map(|id| object_key(*id)).collect();
        // R2 deletes up to 1000 keys in one call.
        for chunk in keys.chunks(1000) {
            bucket.delete_multiple(chunk.to_vec()).await.map_err(|e| storage_unavailable("attachments.purge", e))?;
        }
        Ok(attachments::forget(db, &gone).await?)
    }

    /// Deletes the attachments these messages refer to: for a message deleted for everyone, or
    /// expired. Call it after the messages' ciphertext is gone; what R2 could not delete now, the
    /// sweep deletes later.
    pub async fn delete_for_messages(env: &Env, db: &Client, messages: &[Uuid]) -> ApiResult<u64> {
        if messages.is_empty() {
            return Ok(0);
        }
        let doomed = attachments::doom_for_messages(db, messages).await?;
        purge(db, &bucket(env)?, &doomed).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_object_is_named_by_the_upload_alone() {
        let id = Uuid::parse_str("6f1c1f9e-3b1a-4c55-9a39-8d2f0b1c2d3e").unwrap();
        assert_eq!(object_key(id), "attachments/6f1c1f9e-3b1a-4c55-9a39-8d2f0b1c2d3e");
    }
}
