//! The scheduled sweep (`#[event(scheduled)]`, the cron in wrangler.toml): housekeeping no request
//! does for itself, as a list of steps. Each step deletes what is due in bounded batches, so one
//! run stays within a scheduled Worker's limits and the next run takes up what is left; a step
//! that fails is logged, and the steps after it still run.
//!
//! To add a step: a variant of `Step`, its name, and its arm in `Step::run`.

/// Rows a step marks and deletes per batch.
pub const BATCH: i64 = 200;
/// Batches a step runs per sweep, at most: 4,000 uploads an hour is far more than abandoned ones.
pub const MAX_BATCHES: u32 = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Application messages past their conversation's disappearing-messages timer: their
    /// ciphertext goes (each row stays as a tombstone), and so do their attachments.
    ExpiredMessages,
    /// Uploads no message referred to within `UNREFERENCED_ATTACHMENT_GRACE_SECONDS` (finished or
    /// not), and those whose conversation or uploader is gone: their R2 objects, then their rows.
    AbandonedAttachments,
}

impl Step {
    /// Every step, in the order a sweep runs them.
    pub const ALL: &'static [Step] = &[Step::ExpiredMessages, Step::AbandonedAttachments];

    /// How the log names it.
    pub const fn name(self) -> &'static str {
        match self {
            Step::ExpiredMessages => "expired-messages",
            Step::AbandonedAttachments => "abandoned-attachments",
        }
    }
}

#[cfg(target_arch = "wasm32")]
pub use glue::run;

#[cfg(target_arch = "wasm32")]
mod glue {
    use super::{Step, BATCH, MAX_BATCHES};
    use crate::attachments::{bucket, delete_for_messages, purge};
    use crate::db::{self, attachments, messages, Client};
    use crate::error::{ApiResult, LogLine};
    use worker::Env;

    impl Step {
        /// Runs this step to the end of what is due, or `MAX_BATCHES` batches; returns how many
        /// things it deleted.
        async fn run(self, env: &Env, db: &Client) -> ApiResult<u64> {
            match self {
                Step::ExpiredMessages => {
                    let mut expired = 0;
                    for _ in 0..MAX_BATCHES {
                        let ids = messages::expire_due(db, BATCH).await?;
                        expired += ids.len() as u64;
                        delete_for_messages(env, db, &ids).await?;
                        if (ids.len() as i64) < BATCH {
                            break;
                        }
                    }
                    Ok(expired)
                }
                Step::AbandonedAttachments => {
                    let bucket = bucket(env)?;
                    let mut deleted = 0;
                    for _ in 0..MAX_BATCHES {
                        let doomed = attachments::doom_abandoned(db, BATCH).await?;
                        deleted += purge(db, &bucket, &doomed).await?;
                        if (doomed.len() as i64) < BATCH {
                            break;
                        }
                    }
                    Ok(deleted)
                }
            }
        }
    }

    /// One sweep: every step in turn, each logged with what it deleted (or why it failed).
    pub async fn run(env: &Env) {
        let db = match db::connect(env).await {
            Ok(db) => db,
            Err(e) => {
                LogLine::error("sweep", &format!("no database: {e:?}")).write();
                return;
            }
        };
        for step in Step::ALL {
            let started = js_sys::Date::now();
            let outcome = step.run(env, &db).await;
            let duration_ms = (js_sys::Date::now() - started).max(0.0) as u64;
            match outcome {
                Ok(count) => LogLine::sweep_step(step.name(), count, duration_ms).write(),
                Err(e) => LogLine::error("sweep", &format!("{}: {} {}", step.name(), e.code, e.message)).write(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_has_its_own_name() {
        let mut names: Vec<&str> = Step::ALL.iter().map(|s| s.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Step::ALL.len());
    }
}
