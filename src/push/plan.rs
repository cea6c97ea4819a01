//! Which pushes a user's hub sends for what it delivers, and how it holds them back: pure logic,
//! unit-tested natively; `hub::push` feeds it events and the database's answers, and fetches.
//!
//! A message that reaches a user's hub calls for a push to each of the user's subscribed devices
//! that had no socket open to take it, unless the user muted its conversation. What a device is
//! owed is one push for the newest such message: several that come while a push is on its way,
//! or while the device's rate (`PUSH_RATE`) holds it back, become one, and its service worker
//! syncs everything after what it holds.

use crate::db::push::SubscriptionRow;
use crate::protocol::{MessageKind, PushPayload};
use crate::ratelimit::{TokenBucket, PUSH_RATE};
use serde::Deserialize;
use std::collections::HashMap;
use uuid::Uuid;

/// A message a hub delivered that may call for a push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushable {
    pub payload: PushPayload,
    kind: MessageKind,
    epoch: i64,
    /// The user's devices that had a socket open when it was delivered: those have it.
    delivered_to: Vec<Uuid>,
}

#[derive(Deserialize)]
struct DeliveredEvent {
    message: DeliveredMessage,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeliveredMessage {
    id: Uuid,
    conversation_id: Uuid,
    seq: i64,
    sender_id: Uuid,
    kind: MessageKind,
    epoch: i64,
    ciphertext: String,
}

/// What a `message` event reads as: its tag is the first key serde writes.
const MESSAGE_EVENT_PREFIX: &str = r#"{"type":"message","#;

/// Whether `event` (one delivered event, as serialized) is a `message` event, told by its first
/// bytes: typing, presence and receipts, most of what a hub delivers, are passed over unparsed.
pub fn is_message_event(event: &str) -> bool {
    event.starts_with(MESSAGE_EVENT_PREFIX)
}

/// The message `event` carries, if it may call for a push to `me`: an application message or a
/// Welcome, from someone else.
pub fn pushable(event: &str, me: Uuid, delivered_to: &[Uuid]) -> Option<Pushable> {
    if !is_message_event(event) {
        return None;
    }
    let message = serde_json::from_str::<DeliveredEvent>(event).ok()?.message;
    if message.sender_id == me || message.kind == MessageKind::Commit {
        return None;
    }
    Some(Pushable {
        payload: PushPayload {
            conversation_id: message.conversation_id,
            seq: message.seq,
            message_id: message.id,
            ciphertext: Some(message.ciphertext),
        },
        kind: message.kind,
        epoch: message.epoch,
        delivered_to: delivered_to.to_vec(),
    })
}

impl Pushable {
    /// Whether it calls for a push to a member who joined the conversation at `joined_seq`: an
    /// application message does; a Welcome only when it brought the user in (the one right after
    /// the commit that added them, or the group's first, at epoch 1, which brings in everyone it
    /// was created with). Other Welcomes are for members' new devices, and worth no notification.
    fn wanted(&self, joined_seq: i64) -> bool {
        match self.kind {
            MessageKind::App => true,
            MessageKind::Welcome => joined_seq == self.payload.seq - 1 || self.epoch == 1,
            MessageKind::Commit => false,
        }
    }
}

/// The push each subscribed device is owed for `delivered`, in the order delivered (the newest
/// last wins): `unmuted` are the conversations the user is in and has not muted, with the seq
/// they joined at.
pub fn plan(
    delivered: &[Pushable],
    subscriptions: &[SubscriptionRow],
    unmuted: &HashMap<Uuid, i64>,
) -> Vec<(SubscriptionRow, PushPayload)> {
    let mut owed: Vec<(SubscriptionRow, PushPayload)> = Vec::new();
    for message in delivered {
        let Some(joined_seq) = unmuted.get(&message.payload.conversation_id) else { continue };
        if !message.wanted(*joined_seq) {
            continue;
        }
        for subscription in subscriptions.iter().filter(|s| !message.delivered_to.contains(&s.device_id)) {
            match owed.iter_mut().find(|(s, _)| s.device_id == subscription.device_id) {
                Some((_, payload)) => *payload = message.payload.clone(),
                None => owed.push((subscription.clone(), message.payload.clone())),
            }
        }
    }
    owed
}

/// The pushes a hub owes its user's devices, and each device's rate.
#[derive(Default)]
pub struct Coalescer {
    owed: HashMap<Uuid, (SubscriptionRow, PushPayload)>,
    buckets: HashMap<Uuid, TokenBucket>,
}

impl Coalescer {
    /// Adds what `plan` found: a device owed a push already is owed the newer one instead.
    pub fn owe(&mut self, planned: Vec<(SubscriptionRow, PushPayload)>) {
        for (subscription, payload) in planned {
            self.owed.insert(subscription.device_id, (subscription, payload));
        }
    }

    /// The pushes that may go now, each taking one of its device's tokens; the others stay owed.
    pub fn due(&mut self, now_ms: f64) -> Vec<(SubscriptionRow, PushPayload)> {
        let ready: Vec<Uuid> = self
            .owed
            .keys()
            .copied()
            .filter(|device| {
                self.buckets
                    .entry(*device)
                    .or_insert_with(|| TokenBucket::full(PUSH_RATE, now_ms))
                    .try_take(PUSH_RATE, now_ms)
            })
            .collect();
        ready.iter().filter_map(|device| self.owed.remove(device)).collect()
    }

    /// How long until an owed push may go; None when none is owed.
    pub fn wait_ms(&self, now_ms: f64) -> Option<f64> {
        self.owed
            .keys()
            .map(|device| self.buckets.get(device).map_or(0.0, |b| b.ms_until_next(PUSH_RATE, now_ms)))
            .reduce(f64::min)
    }

    pub fn is_idle(&self) -> bool {
        self.owed.is_empty()
    }
}

/// What a push service's answer means (RFC 8030 §5, §7.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Accepted,
    /// 404 or 410: the subscription has expired or was withdrawn; it is deleted.
    Gone,
    /// Anything else (a 413, 429, 5xx): this push is lost, the subscription kept.
    Failed,
}

pub fn outcome(status: u16) -> Outcome {
    match status {
        200..=299 => Outcome::Accepted,
        404 | 410 => Outcome::Gone,
        _ => Outcome::Failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::messages::MessageRow;
    use crate::protocol::ServerEvent;
    use crate::views;

    const ME: Uuid = Uuid::from_u128(1);
    const PEER: Uuid = Uuid::from_u128(2);
    const CONVERSATION: Uuid = Uuid::from_u128(3);
    const PHONE: Uuid = Uuid::from_u128(10);
    const LAPTOP: Uuid = Uuid::from_u128(11);

    /// A `message` event as a hub delivers it.
    fn event(sender: Uuid, kind: MessageKind, seq: i64, epoch: i64) -> String {
        let row = MessageRow {
            id: Uuid::from_u128(100 + seq as u128),
            conversation_id: CONVERSATION,
            seq,
            sender_id: sender,
            sender_device_id: None,
            kind,
            epoch,
            ciphertext: b"opaque".to_vec(),
            deleted: None,
            client_msg_id: format!("c{seq}"),
            created_at: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            commit_adds: None,
            commit_removes: None,
            commit_departures: None,
            sender_role: None,
        };
        ServerEvent::Message { message: views::message(row) }.to_json()
    }

    fn subscription(device: Uuid) -> SubscriptionRow {
        SubscriptionRow {
            device_id: device,
            endpoint: format!("https://push.example/{device}"),
            p256dh: vec![4; 65],
            auth: vec![1; 16],
        }
    }

    fn unmuted(joined_seq: i64) -> HashMap<Uuid, i64> {
        HashMap::from([(CONVERSATION, joined_seq)])
    }

    #[test]
    fn only_others_messages_and_welcomes_call_for_a_push() {
        let app = pushable(&event(PEER, MessageKind::App, 5, 1), ME, &[]).expect("a message from someone else");
        assert_eq!(app.payload.conversation_id, CONVERSATION);
        assert_eq!(app.payload.seq, 5);
        assert_eq!(app.payload.ciphertext.as_deref(), Some("b3BhcXVl"));
        assert!(pushable(&event(ME, MessageKind::App, 5, 1), ME, &[]).is_none(), "not one's own, from another device");
        assert!(pushable(&event(PEER, MessageKind::Commit, 5, 1), ME, &[]).is_none());
        assert!(pushable(&event(PEER, MessageKind::Welcome, 5, 2), ME, &[]).is_some());
        let typing = ServerEvent::Typing { conversation_id: CONVERSATION, user_id: PEER, on: true }.to_json();
        assert!(!is_message_event(&typing) && pushable(&typing, ME, &[]).is_none());
        assert!(is_message_event(&event(PEER, MessageKind::App, 5, 1)));
        assert!(pushable(r#"{"type":"message","message":{}}"#, ME, &[]).is_none(), "unreadable is no push");
    }

    #[test]
    fn a_device_with_an_open_socket_and_a_muted_conversation_get_none() {
        let subs = [subscription(PHONE), subscription(LAPTOP)];
        let delivered = [pushable(&event(PEER, MessageKind::App, 5, 1), ME, &[LAPTOP]).unwrap()];
        let planned = plan(&delivered, &subs, &unmuted(0));
        assert_eq!(planned.len(), 1);
        assert_eq!(planned[0].0.device_id, PHONE);
        assert!(plan(&delivered, &subs, &HashMap::new()).is_empty(), "muted (or no longer a member)");
    }

    #[test]
    fn a_welcome_is_pushed_only_to_whom_it_brought_in() {
        let subs = [subscription(PHONE)];
        let welcome = |seq, epoch| [pushable(&event(PEER, MessageKind::Welcome, seq, epoch), ME, &[]).unwrap()];
        assert_eq!(plan(&welcome(8, 4), &subs, &unmuted(7)).len(), 1, "added by the commit at seq 7");
        assert!(plan(&welcome(8, 4), &subs, &unmuted(2)).is_empty(), "a member already: for a new device");
        assert_eq!(plan(&welcome(2, 1), &subs, &unmuted(0)).len(), 1, "the group's first Welcome");
    }

    #[test]
    fn several_messages_are_owed_as_one_push_for_the_newest() {
        let subs = [subscription(PHONE)];
        let delivered: Vec<Pushable> =
            (1..=5).map(|seq| pushable(&event(PEER, MessageKind::App, seq, 1), ME, &[]).unwrap()).collect();
        let planned = plan(&delivered, &subs, &unmuted(0));
        assert_eq!(planned.len(), 1);
        assert_eq!(planned[0].1.seq, 5);
    }

    #[test]
    fn a_burst_is_coalesced_and_rate_limited_and_the_newest_comes_last() {
        let mut pushes = Coalescer::default();
        let mut sent = Vec::new();
        // 20 messages, one every 50 ms, each planned on its own: whatever the device may not be
        // sent yet waits, and is replaced by the next.
        for seq in 1..=20 {
            let now = seq as f64 * 50.0;
            let delivered = [pushable(&event(PEER, MessageKind::App, seq, 1), ME, &[]).unwrap()];
            pushes.owe(plan(&delivered, &[subscription(PHONE)], &unmuted(0)));
            sent.extend(pushes.due(now).into_iter().map(|(_, p)| p.seq));
        }
        assert_eq!(sent, (1..=PUSH_RATE.burst as i64).collect::<Vec<_>>(), "the burst goes at once");
        let wait = pushes.wait_ms(1000.0).expect("the newest is owed");
        assert!(wait > 0.0 && wait <= 1000.0 / PUSH_RATE.per_second, "{wait}");
        assert!(pushes.due(1000.0).is_empty());
        let last = pushes.due(1000.0 + wait + 1.0);
        assert_eq!(last.iter().map(|(_, p)| p.seq).collect::<Vec<_>>(), [20]);
        assert!(pushes.is_idle() && pushes.wait_ms(5000.0).is_none());
    }

    #[test]
    fn each_device_has_its_own_rate() {
        let mut pushes = Coalescer::default();
        let burst = PUSH_RATE.burst as usize;
        for seq in 1..=burst as i64 {
            let delivered = [pushable(&event(PEER, MessageKind::App, seq, 1), ME, &[LAPTOP]).unwrap()];
            pushes.owe(plan(&delivered, &[subscription(PHONE), subscription(LAPTOP)], &unmuted(0)));
            assert_eq!(pushes.due(0.0).len(), 1);
        }
        let delivered = [pushable(&event(PEER, MessageKind::App, 99, 1), ME, &[PHONE]).unwrap()];
        pushes.owe(plan(&delivered, &[subscription(PHONE), subscription(LAPTOP)], &unmuted(0)));
        assert_eq!(pushes.due(0.0).iter().map(|(s, _)| s.device_id).collect::<Vec<_>>(), [LAPTOP]);
    }

    #[test]
    fn gone_subscriptions_are_404_and_410() {
        assert_eq!(outcome(201), Outcome::Accepted);
        assert_eq!(outcome(404), Outcome::Gone);
        assert_eq!(outcome(410), Outcome::Gone);
        for status in [400, 401, 403, 413, 429, 500, 503] {
            assert_eq!(outcome(status), Outcome::Failed, "{status}");
        }
    }
}
