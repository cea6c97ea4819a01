//! The hub's one alarm, which does five jobs on one schedule: it closes sockets whose token has
//! expired (a socket that never sends would otherwise outlive it), re-checks the sessions of the
//! open sockets every `session_recheck_ms`, repairs the presence of a user with no socket whose
//! hub a delivery woke (see `receive_delivery`), sends the pushes deliveries queued (`push`), and
//! gives back a database connection that has been idle for `db_idle_ms`. A Durable Object has a single alarm, so each job asks for it no later than it
//! needs it (`alarm_no_later_than`): it only ever moves earlier, and each time it rings the hub
//! works out when it is next needed. A hub with no socket and no connection sets none.

use super::sockets::Presence;
use super::{now_ms, UserHub};
use crate::error::log_error;
use uuid::Uuid;

/// What this instance knows of the hub's alarm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum AlarmState {
    /// Not read yet: a new instance (after hibernation or eviction) may find one its
    /// predecessor set.
    Unknown,
    Unset,
    /// Set for this time (milliseconds since the epoch).
    At(f64),
}

impl UserHub {
    pub(super) async fn ring_alarm(&self) {
        // The alarm that rang is spent; one set while this runs is kept, and read as set.
        self.alarm.set(AlarmState::Unset);
        self.socket_infos.keep_only(&self.state.get_websockets());
        self.close_expired_sockets().await;
        if now_ms() >= self.sessions_checked_at.get() + self.session_recheck_ms {
            self.recheck_sessions().await;
        }
        if self.presence_repair_at.get().is_some_and(|at| now_ms() >= at) {
            self.presence_repair_at.set(None);
            if let (true, Some(user)) = (self.open_sockets().is_empty(), self.user_id()) {
                self.announce_presence(user, Presence::StaleOnline).await;
                // It has nothing more to ask the database: the connection goes now, not when idle.
                if self.open_sockets().is_empty() {
                    *self.db.lock().await = None;
                }
            }
        }
        // A new instance (the last evicted or hibernated) learns here what pushes it owes.
        self.restore_pushes().await;
        if self.pushes_due_at().is_some_and(|at| now_ms() >= at) {
            self.send_pushes().await;
        }
        if now_ms() - self.db_used_at.get() >= self.db_idle_ms {
            // Dropping the last client ends its connection task, which closes the connection.
            *self.db.lock().await = None;
        }
        self.schedule_next_alarm().await;
    }

    /// The user this hub is for (its name).
    pub(super) fn user_id(&self) -> Option<Uuid> {
        self.state.id().name().and_then(|n| Uuid::try_parse(&n).ok())
    }

    /// Sets the alarm for the first job that will need it, if any will.
    pub(super) async fn schedule_next_alarm(&self) {
        let mut due: Vec<f64> = self.presence_repair_at.get().into_iter().chain(self.pushes_due_at()).collect();
        if self.holds_connection() {
            due.push(self.db_used_at.get() + self.db_idle_ms);
        }
        let sockets = self.open_sockets();
        if !sockets.is_empty() {
            due.push(self.sessions_checked_at.get() + self.session_recheck_ms);
            due.extend(sockets.iter().map(|(_, info)| info.expires_at as f64 * 1000.0));
        }
        if let Some(first) = due.into_iter().reduce(f64::min) {
            self.alarm_no_later_than(first).await;
        }
    }

    /// Makes sure the alarm rings at `at` (milliseconds since the epoch) or before. The state is
    /// updated before the storage call, so that a caller meanwhile with a later time does not
    /// overwrite this one.
    pub(super) async fn alarm_no_later_than(&self, at: f64) {
        let storage = self.state.storage();
        if self.alarm.get() == AlarmState::Unknown {
            match storage.get_alarm().await {
                Ok(set) => self.alarm.set(set.map_or(AlarmState::Unset, |ms| AlarmState::At(ms as f64))),
                Err(e) => log_error("hub.alarm", &format!("reading the alarm failed: {e}")),
            }
        }
        if matches!(self.alarm.get(), AlarmState::At(set) if set <= at) {
            return;
        }
        let at = at.ceil();
        let Some(when) = chrono::DateTime::from_timestamp_millis(at as i64) else { return };
        self.alarm.set(AlarmState::At(at));
        if let Err(e) = storage.set_alarm(when).await {
            log_error("hub.alarm", &format!("setting the alarm failed: {e}"));
            // Whatever is set now is read again next time.
            self.alarm.set(AlarmState::Unknown);
        }
    }
}
