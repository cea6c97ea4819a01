//! Getting events to sockets: this hub's own sockets directly, other users' sockets through an
//! outbox that batches what is queued for each of their hubs; and taking in what other hubs deliver.

use super::client::deliver;
use super::{now_ms, UserHub};
use crate::deliveries::EVENT_SEPARATOR;
use crate::protocol::ServerEvent;
use uuid::Uuid;

/// How long after a delivery woke it a hub with no socket repairs its user's presence, at most.
pub(super) const PRESENCE_REPAIR_SPREAD_MS: f64 = 5_000.0;

impl UserHub {
    /// A delivery from another hub (or the REST side): events for every socket here, one per
    /// line (`EVENT_SEPARATOR`).
    pub(super) async fn receive_delivery(&self, events: &str) {
        self.recheck_sessions_if_overdue().await;
        for event in events.split(EVENT_SEPARATOR) {
            self.push_local(event, None);
        }
        // After the sockets have it, and without waiting: the alarm sends the pushes.
        self.queue_pushes(events).await;
        if !self.presence_checked.replace(true) && self.open_sockets().is_empty() {
            // The repair is the alarm's, a random moment within PRESENCE_REPAIR_SPREAD_MS: one
            // commit to a group of 100 offline people wakes 100 hubs, and had each asked the
            // database at once they would hold 100 connections at the same moment (all a local
            // PostgreSQL allows), refusing everyone else meanwhile.
            let at = now_ms() + js_sys::Math::random() * PRESENCE_REPAIR_SPREAD_MS;
            self.presence_repair_at.set(Some(at));
            self.alarm_no_later_than(at).await;
        }
    }

    /// Sends `event` to this user's open sockets, except `skip`. Nothing goes to a socket whose
    /// token has expired or whose attachment (who it is) is lost, even if the alarm that closes it
    /// has not rung: what it may receive is decided here, not by the alarm's punctuality.
    fn push_local(&self, event: &str, skip: Option<&str>) {
        let now_secs = (now_ms() / 1000.0) as i64;
        for (ws, info) in self.open_sockets() {
            let is_skipped = skip.is_some_and(|conn| info.conn_id == conn);
            if !is_skipped && now_secs < info.expires_at {
                let _ = ws.send_with_str(event);
            }
        }
    }

    /// Sends `event` to every socket of every user in `to`, except the socket `skip`. The caller's
    /// own user is served from this hub directly; others through their hubs, all at once.
    pub(super) async fn route(&self, me: Uuid, to: &[Uuid], event: &ServerEvent, skip: Option<&str>) {
        self.enqueue(me, to, event, skip);
        self.flush_outbox().await;
    }

    /// `route` without the flush: this user's sockets get `event` now, other users' hubs at the
    /// next `flush_outbox`.
    pub(super) fn enqueue(&self, me: Uuid, to: &[Uuid], event: &ServerEvent, skip: Option<&str>) {
        let event = event.to_json();
        if to.contains(&me) {
            self.push_local(&event, skip);
        }
        {
            let mut outbox = self.outbox.borrow_mut();
            for user in to.iter().filter(|u| **u != me) {
                outbox.entry(*user).or_default().push(event.clone());
            }
        }
    }

    /// Sends what the outbox holds, until it is empty. Only one flush runs at a time; a caller
    /// that finds one running leaves its events to it and returns at once. Under load, everything
    /// queued while one flush is on the wire goes in the next, one call per hub: the hop costs
    /// per call, not per event.
    pub(super) async fn flush_outbox(&self) {
        if self.flushing.replace(true) {
            return;
        }
        loop {
            let batch = std::mem::take(&mut *self.outbox.borrow_mut());
            if batch.is_empty() {
                break;
            }
            futures_util::future::join_all(batch.into_iter().map(|(user, events)| deliver(&self.env, user, events)))
                .await;
        }
        self.flushing.set(false);
    }
}
