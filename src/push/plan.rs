//! Which pushes a user's hub sends for what it delivers, and how it holds them back: pure logic,
//! unit-tested natively; `hub::push` feeds it events and the database's answers, and fetches.
//!
//! A message that reaches a user's hub calls for a push to each of the user's subscribed devices
//! that had no socket open to take it, unless the user muted its conversation. A `read` receipt
//! the user makes on one device calls for a read push to their other subscribed devices with no
//! socket open, so that those clear the notifications of that conversation, but only to a device
//! this hub sent a message push of that conversation since its last read push for it: the others
//! show nothing of it.
//!
//! What a device is owed is one push per conversation: for the newest message, or a read that
//! covers it. Several that come while a push is on its way, or while the device's rate
//! (`PUSH_RATE`, shared by both kinds) holds it back, become one, and its service worker syncs
//! everything after what it holds. A read never takes the place of a message it does not cover,
//! so no message push is lost to one.

use crate::db::push::SubscriptionRow;
use crate::protocol::{MessageKind, PushPayload};
use crate::ratelimit::{TokenBucket, PUSH_RATE};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use uuid::Uuid;

/// A message a hub delivered, or a read its user made, that may call for a push. Serializable:
/// the hub saves what it queued (`hub::push`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pushable {
    pub payload: PushPayload,
    /// A message's kind and epoch, which say whom it is worth a push to; None for a read.
    message: Option<(MessageKind, i64)>,
    /// The user's devices that had a socket open when it was delivered (or read): those have it.
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
        payload: PushPayload::Message {
            conversation_id: message.conversation_id,
            seq: message.seq,
            message_id: message.id,
            ciphertext: Some(message.ciphertext),
        }
        .fitted(),
        message: Some((message.kind, message.epoch)),
        delivered_to: delivered_to.to_vec(),
    })
}

/// The user read `conversation` up to the message at `seq` on one device; `delivered_to` are the
/// devices with a socket open, which had the receipt (the reader's among them).
pub fn read(conversation_id: Uuid, seq: i64, delivered_to: &[Uuid]) -> Pushable {
    Pushable { payload: PushPayload::Read { conversation_id, seq }, message: None, delivered_to: delivered_to.to_vec() }
}

impl Pushable {
    /// Whether it calls for a push, given `unmuted`: the conversations the user is in and has not
    /// muted, with the seq they joined at. An application message does, in one of those; a Welcome
    /// only when it brought the user in (the one right after the commit that added them, or the
    /// group's first, at epoch 1, which brings in everyone it was created with). Other Welcomes
    /// are for members' new devices, and worth no notification. A read does, muted or not: it
    /// clears what was shown before (the Coalescer knows whether anything was).
    fn wanted(&self, unmuted: &HashMap<Uuid, i64>) -> bool {
        let Some((kind, epoch)) = self.message else { return true };
        let Some(joined_seq) = unmuted.get(&self.payload.conversation_id()) else { return false };
        match kind {
            MessageKind::App => true,
            MessageKind::Welcome => *joined_seq == self.payload.seq() - 1 || epoch == 1,
            MessageKind::Commit => false,
        }
    }

    /// The same, with no message ciphertext (what a hub saves: see `PushPayload::without_ciphertext`).
    pub fn without_ciphertext(&self) -> Self {
        Self { payload: self.payload.without_ciphertext(), ..self.clone() }
    }

    /// Whether it is a message (whose push depends on the conversation's mute) rather than a read.
    pub fn is_message(&self) -> bool {
        self.message.is_some()
    }
}

/// Whether `new` takes the place of `owed`, a push of the same conversation to the same device:
/// the one for the later message does, and at the same message a read (read elsewhere, nothing of
/// it is left to show). So a read never replaces a push for a message it does not cover.
pub fn supersedes(new: &PushPayload, owed: &PushPayload) -> bool {
    (new.seq(), new.is_read()) >= (owed.seq(), owed.is_read())
}

/// The push each subscribed device is owed for `delivered` (in the order delivered), one per
/// device and conversation (see `supersedes`): `unmuted` are the conversations the user is in
/// and has not muted, with the seq they joined at.
pub fn plan(
    delivered: &[Pushable],
    subscriptions: &[SubscriptionRow],
    unmuted: &HashMap<Uuid, i64>,
) -> Vec<(SubscriptionRow, PushPayload)> {
    let mut owed: Vec<(SubscriptionRow, PushPayload)> = Vec::new();
    for pushable in delivered.iter().filter(|p| p.wanted(unmuted)) {
        let conversation = pushable.payload.conversation_id();
        for subscription in subscriptions.iter().filter(|s| !pushable.delivered_to.contains(&s.device_id)) {
            let device = subscription.device_id;
            match owed.iter_mut().find(|(s, p)| s.device_id == device && p.conversation_id() == conversation) {
                Some((_, payload)) if supersedes(&pushable.payload, payload) => *payload = pushable.payload.clone(),
                Some(_) => {}
                None => owed.push((subscription.clone(), pushable.payload.clone())),
            }
        }
    }
    owed
}

/// How many conversations a hub remembers showing one device (each until read).
const MAX_SHOWN_CONVERSATIONS: usize = 200;

/// The pushes a hub owes its user's devices, each device's rate, and what each was shown.
/// Serializable: the hub keeps it in its storage, so that one evicted or hibernated while a rate
/// holds pushes back sends them all the same, and still knows what each device was shown.
#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Coalescer {
    /// Each device's subscription (as last planned) and what it is owed: one push per
    /// conversation, the longest owed first.
    owed: HashMap<Uuid, (SubscriptionRow, Vec<PushPayload>)>,
    buckets: HashMap<Uuid, TokenBucket>,
    /// The conversations each device was sent a message push of since a read push covered them,
    /// with the seq of the newest such message: a read push goes to a device only for these, and
    /// one that reads only part of it (receipts come one per message, oldest first) leaves it
    /// shown.
    shown: HashMap<Uuid, HashMap<Uuid, i64>>,
}

impl Coalescer {
    /// Adds what `plan` found. A device owed a push of the same conversation already is owed
    /// whichever `supersedes` the other. A read goes only to a device shown that conversation: to
    /// any other, a read that covers the message push it is owed (not sent yet) cancels it, and
    /// nothing goes.
    pub fn owe(&mut self, planned: Vec<(SubscriptionRow, PushPayload)>) {
        for (subscription, payload) in planned {
            let device = subscription.device_id;
            let conversation = payload.conversation_id();
            let shown = self.shown.get(&device).is_some_and(|s| s.contains_key(&conversation));
            let (row, pushes) = self.owed.entry(device).or_insert_with(|| (subscription.clone(), Vec::new()));
            *row = subscription;
            match pushes.iter().position(|p| p.conversation_id() == conversation) {
                // A later message is owed: its push replaces what the device shows.
                Some(at) if !supersedes(&payload, &pushes[at]) => {}
                Some(at) if payload.is_read() && !shown => {
                    pushes.remove(at);
                }
                Some(at) => pushes[at] = payload,
                None if payload.is_read() && !shown => {}
                None => pushes.push(payload),
            }
            if pushes.is_empty() {
                self.owed.remove(&device);
            }
        }
    }

    /// The pushes that may go now, each taking one of its device's tokens, the longest owed
    /// first; the others stay owed.
    pub fn due(&mut self, now_ms: f64) -> Vec<(SubscriptionRow, PushPayload)> {
        let mut ready = Vec::new();
        for (device, (subscription, pushes)) in self.owed.iter_mut() {
            let bucket = self.buckets.entry(*device).or_insert_with(|| TokenBucket::full(PUSH_RATE, now_ms));
            let mut taken = 0;
            while taken < pushes.len() && bucket.try_take(PUSH_RATE, now_ms) {
                taken += 1;
            }
            for payload in pushes.drain(..taken) {
                let shown = self.shown.entry(*device).or_default();
                let conversation = payload.conversation_id();
                if !payload.is_read() {
                    let newest = shown.entry(conversation).or_insert(payload.seq());
                    *newest = (*newest).max(payload.seq());
                    // Bounded, as what the hub saves is: past it, the conversation shown the
                    // fewest messages ago (by seq, a rough age) is forgotten (a read elsewhere then
                    // leaves its notification on that device).
                    if shown.len() > MAX_SHOWN_CONVERSATIONS {
                        let forgotten = shown
                            .iter()
                            .filter(|(c, _)| **c != conversation)
                            .min_by_key(|(_, seq)| **seq)
                            .map(|(c, _)| *c);
                        if let Some(forgotten) = forgotten {
                            shown.remove(&forgotten);
                        }
                    }
                } else if shown.get(&conversation).is_some_and(|newest| payload.seq() >= *newest) {
                    shown.remove(&conversation);
                }
                ready.push((subscription.clone(), payload));
            }
        }
        self.owed.retain(|_, (_, pushes)| !pushes.is_empty());
        self.shown.retain(|_, conversations| !conversations.is_empty());
        // A bucket refilled to its burst is what a new one would be: kept, it would only grow
        // the map (and what the hub saves) with every device ever pushed to.
        let owed = &self.owed;
        self.buckets.retain(|device, bucket| owed.contains_key(device) || !bucket.is_full(PUSH_RATE, now_ms));
        ready
    }

    /// `device` read `conversation` up to `seq` itself (its socket open): what it was shown of it up
    /// to there is gone from its screen (the app closes a conversation's notifications as it
    /// opens it), and a push owed to it for a message it read is moot. Neither is pushed: a read
    /// push there would clear nothing, and browsers count a push that shows nothing against the
    /// site (Safari drops the subscription after a few).
    /// Says whether that changed anything.
    pub fn read_on(&mut self, device: Uuid, conversation: Uuid, seq: i64) -> bool {
        let mut changed = false;
        if let Some(shown) = self.shown.get_mut(&device) {
            if shown.get(&conversation).is_some_and(|newest| seq >= *newest) {
                shown.remove(&conversation);
                changed = true;
            }
            if shown.is_empty() {
                self.shown.remove(&device);
            }
        }
        if let Some((_, pushes)) = self.owed.get_mut(&device) {
            let before = pushes.len();
            pushes.retain(|p| p.conversation_id() != conversation || p.seq() > seq);
            changed |= pushes.len() != before;
            if pushes.is_empty() {
                self.owed.remove(&device);
            }
        }
        changed
    }

    /// The same, with no message ciphertext in what it owes (what a hub saves).
    pub fn without_ciphertext(&self) -> Self {
        Self {
            owed: self
                .owed
                .iter()
                .map(|(device, (row, pushes))| {
                    (*device, (row.clone(), pushes.iter().map(PushPayload::without_ciphertext).collect()))
                })
                .collect(),
            buckets: self.buckets.clone(),
            shown: self.shown.clone(),
        }
    }

    /// Forgets every device but `subscribed` (the user's devices with a subscription now): one
    /// removed, signed out or unsubscribed is owed nothing, shown nothing, and needs no rate.
    pub fn keep_devices(&mut self, subscribed: &[Uuid]) {
        self.owed.retain(|device, _| subscribed.contains(device));
        self.shown.retain(|device, _| subscribed.contains(device));
        self.buckets.retain(|device, _| subscribed.contains(device));
    }

    /// Whether a read of `conversation` may call for a push, or cancel one: some device was shown
    /// it or is owed a push of it. Otherwise a read costs the hub nothing more.
    pub fn concerns(&self, conversation: Uuid) -> bool {
        self.shown.values().any(|s| s.contains_key(&conversation))
            || self.owed.values().any(|(_, pushes)| pushes.iter().any(|p| p.conversation_id() == conversation))
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

    /// Whether it holds nothing worth keeping across the hub's instances: nothing owed, and no
    /// device shown anything. (A rate alone is not: a new instance starts it full, one burst.)
    pub fn is_empty(&self) -> bool {
        self.owed.is_empty() && self.shown.is_empty()
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

    const OTHER_CONVERSATION: Uuid = Uuid::from_u128(4);
    const TABLET: Uuid = Uuid::from_u128(12);

    /// A `message` event as a hub delivers it.
    fn event(sender: Uuid, kind: MessageKind, seq: i64, epoch: i64) -> String {
        event_in(CONVERSATION, sender, kind, seq, epoch)
    }

    fn event_in(conversation: Uuid, sender: Uuid, kind: MessageKind, seq: i64, epoch: i64) -> String {
        let row = MessageRow {
            id: Uuid::from_u128(100 + seq as u128),
            conversation_id: conversation,
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
        assert_eq!(
            app.payload,
            PushPayload::Message {
                conversation_id: CONVERSATION,
                seq: 5,
                message_id: Uuid::from_u128(105),
                ciphertext: Some("b3BhcXVl".into()),
            }
        );
        assert!(app.is_message());
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
        assert_eq!(planned[0].1.seq(), 5);
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
            sent.extend(pushes.due(now).into_iter().map(|(_, p)| p.seq()));
        }
        assert_eq!(sent, (1..=PUSH_RATE.burst as i64).collect::<Vec<_>>(), "the burst goes at once");
        let wait = pushes.wait_ms(1000.0).expect("the newest is owed");
        assert!(wait > 0.0 && wait <= 1000.0 / PUSH_RATE.per_second, "{wait}");
        assert!(pushes.due(1000.0).is_empty());
        let last = pushes.due(1000.0 + wait + 1.0);
        assert_eq!(last.iter().map(|(_, p)| p.seq()).collect::<Vec<_>>(), [20]);
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

    /// An application message from PEER at `seq` in `conversation`, which `open` had a socket for.
    fn app_in(conversation: Uuid, seq: i64, open: &[Uuid]) -> Pushable {
        pushable(&event_in(conversation, PEER, MessageKind::App, seq, 1), ME, open).unwrap()
    }

    fn both_unmuted() -> HashMap<Uuid, i64> {
        HashMap::from([(CONVERSATION, 0), (OTHER_CONVERSATION, 0)])
    }

    /// What each push of `due` is, by device: (device, conversation, seq, read).
    fn described(due: Vec<(SubscriptionRow, PushPayload)>) -> Vec<(Uuid, Uuid, i64, bool)> {
        let mut out: Vec<_> =
            due.into_iter().map(|(s, p)| (s.device_id, p.conversation_id(), p.seq(), p.is_read())).collect();
        out.sort();
        out
    }

    #[test]
    fn the_later_message_wins_and_at_the_same_message_a_read() {
        let message = |seq| PushPayload::Message {
            conversation_id: CONVERSATION,
            seq,
            message_id: Uuid::from_u128(seq as u128),
            ciphertext: None,
        };
        let read = |seq| PushPayload::Read { conversation_id: CONVERSATION, seq };
        assert!(supersedes(&message(6), &message(5)));
        assert!(!supersedes(&message(5), &message(6)));
        assert!(supersedes(&read(5), &message(5)), "read up to it: nothing left to show");
        assert!(supersedes(&read(7), &message(5)));
        assert!(!supersedes(&read(4), &message(5)), "a read never replaces a message it does not cover");
        assert!(!supersedes(&message(5), &read(5)));
        assert!(supersedes(&message(6), &read(5)), "a later message replaces the read");
        assert!(supersedes(&read(6), &read(5)) && !supersedes(&read(5), &read(6)));
    }

    #[test]
    fn a_read_is_pushed_only_to_devices_without_a_socket_that_were_shown_the_conversation() {
        let subs = [subscription(PHONE), subscription(LAPTOP), subscription(TABLET)];
        let mut pushes = Coalescer::default();
        // PHONE and TABLET were away for the message; LAPTOP had a socket open.
        pushes.owe(plan(&[app_in(CONVERSATION, 5, &[LAPTOP])], &subs, &unmuted(0)));
        assert_eq!(described(pushes.due(0.0)).len(), 2);
        assert!(pushes.concerns(CONVERSATION) && !pushes.concerns(OTHER_CONVERSATION));
        // Read on LAPTOP while TABLET is open again: only PHONE gets a read push.
        pushes.owe(plan(&[read(CONVERSATION, 5, &[LAPTOP, TABLET])], &subs, &unmuted(0)));
        assert_eq!(described(pushes.due(0.0)), [(PHONE, CONVERSATION, 5, true)]);
        // PHONE has nothing shown any more: a second read sends it nothing.
        pushes.owe(plan(&[read(CONVERSATION, 5, &[LAPTOP])], &subs, &unmuted(0)));
        assert_eq!(described(pushes.due(0.0)), [(TABLET, CONVERSATION, 5, true)], "TABLET, away now, still shows it");
        pushes.owe(plan(&[read(CONVERSATION, 5, &[LAPTOP])], &subs, &unmuted(0)));
        assert!(pushes.due(100_000.0).is_empty());
        assert!(!pushes.concerns(CONVERSATION), "nothing left to clear: further reads cost nothing");
    }

    #[test]
    fn a_read_of_part_of_what_was_shown_leaves_the_rest_to_clear() {
        let subs = [subscription(PHONE)];
        let mut pushes = Coalescer::default();
        pushes.owe(plan(&[app_in(CONVERSATION, 5, &[])], &subs, &unmuted(0)));
        assert_eq!(pushes.due(0.0).len(), 1);
        pushes.owe(plan(&[app_in(CONVERSATION, 7, &[])], &subs, &unmuted(0)));
        assert_eq!(pushes.due(0.0).len(), 1);
        // Receipts come one per message, oldest first: the read of 5 leaves 7 on the phone.
        pushes.owe(plan(&[read(CONVERSATION, 5, &[LAPTOP])], &subs, &unmuted(0)));
        assert_eq!(described(pushes.due(0.0)), [(PHONE, CONVERSATION, 5, true)]);
        assert!(pushes.concerns(CONVERSATION), "7 is still shown");
        pushes.owe(plan(&[read(CONVERSATION, 7, &[LAPTOP])], &subs, &unmuted(0)));
        assert_eq!(described(pushes.due(100_000.0)), [(PHONE, CONVERSATION, 7, true)]);
        assert!(!pushes.concerns(CONVERSATION), "all of it read");
    }

    #[test]
    fn a_read_goes_for_a_conversation_muted_since_its_message_push() {
        let subs = [subscription(PHONE)];
        let mut pushes = Coalescer::default();
        pushes.owe(plan(&[app_in(CONVERSATION, 5, &[])], &subs, &unmuted(0)));
        assert_eq!(pushes.due(0.0).len(), 1);
        pushes.owe(plan(&[read(CONVERSATION, 5, &[LAPTOP])], &subs, &HashMap::new()));
        assert_eq!(described(pushes.due(0.0)), [(PHONE, CONVERSATION, 5, true)]);
    }

    #[test]
    fn a_device_shown_nothing_of_a_conversation_gets_no_read_push() {
        let subs = [subscription(PHONE)];
        let mut pushes = Coalescer::default();
        pushes.owe(plan(&[app_in(OTHER_CONVERSATION, 5, &[])], &subs, &both_unmuted()));
        assert_eq!(pushes.due(0.0).len(), 1);
        pushes.owe(plan(&[read(CONVERSATION, 9, &[LAPTOP])], &subs, &both_unmuted()));
        assert!(pushes.is_idle() && pushes.due(100_000.0).is_empty());
        // Nor does a device whose message push was muted away.
        let mut pushes = Coalescer::default();
        pushes.owe(plan(&[app_in(CONVERSATION, 5, &[])], &subs, &HashMap::new()));
        pushes.owe(plan(&[read(CONVERSATION, 5, &[LAPTOP])], &subs, &HashMap::new()));
        assert!(pushes.due(0.0).is_empty());
    }

    /// A coalescer whose PHONE used up its burst on CONVERSATION's messages, so it was shown it.
    fn phone_held_back() -> Coalescer {
        let mut pushes = Coalescer::default();
        for seq in 1..=PUSH_RATE.burst as i64 {
            pushes.owe(plan(&[app_in(CONVERSATION, seq, &[])], &[subscription(PHONE)], &both_unmuted()));
            assert_eq!(pushes.due(0.0).len(), 1);
        }
        pushes
    }

    #[test]
    fn a_read_replaces_an_owed_message_push_only_when_it_covers_it() {
        let subs = [subscription(PHONE)];
        let gap = 1000.0 / PUSH_RATE.per_second;
        // Owed (held back by the rate): the message at 10. A read at 9 does not cover it.
        let mut pushes = phone_held_back();
        pushes.owe(plan(&[app_in(CONVERSATION, 10, &[])], &subs, &both_unmuted()));
        pushes.owe(plan(&[read(CONVERSATION, 9, &[LAPTOP])], &subs, &both_unmuted()));
        assert!(pushes.due(0.0).is_empty());
        assert_eq!(described(pushes.due(gap)), [(PHONE, CONVERSATION, 10, false)], "the message push is not lost");
        // A read at 10 (or later) does: one read push instead.
        let mut pushes = phone_held_back();
        pushes.owe(plan(&[app_in(CONVERSATION, 10, &[])], &subs, &both_unmuted()));
        pushes.owe(plan(&[read(CONVERSATION, 10, &[LAPTOP])], &subs, &both_unmuted()));
        assert_eq!(described(pushes.due(gap)), [(PHONE, CONVERSATION, 10, true)]);
        assert!(pushes.is_idle());
        // A message after an owed read replaces it: its push replaces what the device shows.
        let mut pushes = phone_held_back();
        pushes.owe(plan(&[read(CONVERSATION, 3, &[LAPTOP])], &subs, &both_unmuted()));
        pushes.owe(plan(&[app_in(CONVERSATION, 11, &[])], &subs, &both_unmuted()));
        assert_eq!(described(pushes.due(gap)), [(PHONE, CONVERSATION, 11, false)]);
        // In one plan, in either order, the same.
        let planned = plan(
            &[app_in(CONVERSATION, 12, &[]), read(CONVERSATION, 11, &[LAPTOP]), app_in(CONVERSATION, 13, &[])],
            &subs,
            &both_unmuted(),
        );
        assert_eq!(planned.len(), 1);
        assert_eq!((planned[0].1.seq(), planned[0].1.is_read()), (13, false));
        let planned = plan(&[app_in(CONVERSATION, 12, &[]), read(CONVERSATION, 12, &[LAPTOP])], &subs, &both_unmuted());
        assert_eq!((planned[0].1.seq(), planned[0].1.is_read()), (12, true));
    }

    #[test]
    fn a_read_that_covers_a_message_push_never_sent_cancels_it_and_sends_nothing() {
        let subs = [subscription(PHONE)];
        let mut pushes = Coalescer::default();
        // The rate holds PHONE back on OTHER_CONVERSATION; CONVERSATION's message waits, unsent.
        for seq in 1..=PUSH_RATE.burst as i64 {
            pushes.owe(plan(&[app_in(OTHER_CONVERSATION, seq, &[])], &subs, &both_unmuted()));
            assert_eq!(pushes.due(0.0).len(), 1);
        }
        pushes.owe(plan(&[app_in(CONVERSATION, 7, &[])], &subs, &both_unmuted()));
        assert!(pushes.concerns(CONVERSATION));
        pushes.owe(plan(&[read(CONVERSATION, 7, &[LAPTOP])], &subs, &both_unmuted()));
        assert!(pushes.is_idle(), "read elsewhere before it went: nothing to show, nothing to clear");
        assert!(!pushes.concerns(CONVERSATION));
    }

    #[test]
    fn a_device_is_owed_one_push_per_conversation_and_reads_share_its_rate() {
        let subs = [subscription(PHONE)];
        let gap = 1000.0 / PUSH_RATE.per_second;
        let mut pushes = phone_held_back();
        // Held back: a message of each conversation; then CONVERSATION is read elsewhere.
        pushes.owe(plan(&[app_in(OTHER_CONVERSATION, 1, &[]), app_in(CONVERSATION, 9, &[])], &subs, &both_unmuted()));
        pushes.owe(plan(&[read(CONVERSATION, 9, &[LAPTOP])], &subs, &both_unmuted()));
        assert!(pushes.due(gap - 1.0).is_empty(), "a read waits for the device's rate like a message");
        // The longest owed first, one token each: neither is lost to the other.
        assert_eq!(described(pushes.due(gap)), [(PHONE, OTHER_CONVERSATION, 1, false)]);
        assert!(pushes.wait_ms(gap).is_some_and(|w| w > 0.0));
        assert_eq!(described(pushes.due(2.0 * gap)), [(PHONE, CONVERSATION, 9, true)]);
        assert!(pushes.is_idle());
        // With tokens to spare, both go in one round.
        let mut pushes = Coalescer::default();
        pushes.owe(plan(&[app_in(OTHER_CONVERSATION, 1, &[]), app_in(CONVERSATION, 2, &[])], &subs, &both_unmuted()));
        assert_eq!(
            described(pushes.due(0.0)),
            [(PHONE, CONVERSATION, 2, false), (PHONE, OTHER_CONVERSATION, 1, false)]
        );
    }

    #[test]
    fn saved_and_restored_it_goes_on_where_it_was() {
        let subs = [subscription(PHONE)];
        let gap = 1000.0 / PUSH_RATE.per_second;
        let mut pushes = phone_held_back();
        pushes.owe(plan(&[app_in(OTHER_CONVERSATION, 1, &[]), app_in(CONVERSATION, 9, &[])], &subs, &both_unmuted()));
        let mut restored: Coalescer = serde_json::from_str(&serde_json::to_string(&pushes).unwrap()).unwrap();
        assert_eq!(restored, pushes);
        // The rate carried over: nothing goes before its time, then what was owed, in order.
        assert!(restored.due(gap - 1.0).is_empty());
        assert_eq!(described(restored.due(gap)), [(PHONE, OTHER_CONVERSATION, 1, false)]);
        // And what the phone was shown: a read elsewhere still clears it there.
        restored.owe(plan(&[read(CONVERSATION, 9, &[LAPTOP])], &subs, &both_unmuted()));
        assert_eq!(described(restored.due(2.0 * gap)), [(PHONE, CONVERSATION, 9, true)]);
        // What was queued for the next round, too.
        let queued = vec![app_in(CONVERSATION, 10, &[LAPTOP]), read(CONVERSATION, 10, &[LAPTOP])];
        assert_eq!(serde_json::from_str::<Vec<Pushable>>(&serde_json::to_string(&queued).unwrap()).unwrap(), queued);
    }

    #[test]
    fn a_read_on_the_device_itself_clears_what_it_was_shown_and_pushes_it_nothing() {
        let subs = [subscription(PHONE)];
        let mut pushes = Coalescer::default();
        pushes.owe(plan(&[app_in(CONVERSATION, 5, &[])], &subs, &unmuted(0)));
        assert_eq!(pushes.due(0.0).len(), 1);
        // Read up to an earlier message on the phone: 5 is still on its screen.
        assert!(!pushes.read_on(PHONE, CONVERSATION, 4));
        assert!(pushes.concerns(CONVERSATION));
        assert!(pushes.read_on(PHONE, CONVERSATION, 5));
        assert!(!pushes.concerns(CONVERSATION), "nothing left shown, so a read elsewhere costs nothing");
        pushes.owe(plan(&[read(CONVERSATION, 5, &[LAPTOP])], &subs, &unmuted(0)));
        assert!(pushes.due(100_000.0).is_empty(), "no read push to clear what the phone cleared itself");
        // A push owed to it (held back) for what it then read itself is moot; a later one is not.
        let mut pushes = phone_held_back();
        pushes.owe(plan(&[app_in(OTHER_CONVERSATION, 1, &[]), app_in(CONVERSATION, 9, &[])], &subs, &both_unmuted()));
        assert!(pushes.read_on(PHONE, CONVERSATION, 9));
        assert!(!pushes.read_on(PHONE, OTHER_CONVERSATION, 0));
        assert_eq!(described(pushes.due(100_000.0)), [(PHONE, OTHER_CONVERSATION, 1, false)]);
        assert!(pushes.is_idle());
    }

    #[test]
    fn a_rate_back_to_full_is_forgotten() {
        let subs = [subscription(PHONE)];
        let mut pushes = Coalescer::default();
        pushes.owe(plan(&[app_in(CONVERSATION, 5, &[])], &subs, &unmuted(0)));
        assert_eq!(pushes.due(0.0).len(), 1);
        assert!(pushes.read_on(PHONE, CONVERSATION, 5));
        assert!(pushes.is_empty(), "a rate alone is not worth keeping");
        assert!(pushes.buckets.contains_key(&PHONE), "the phone's rate is still short of a token");
        let refilled = 1000.0 / PUSH_RATE.per_second;
        assert!(pushes.due(refilled).is_empty());
        assert!(pushes.buckets.is_empty(), "refilled, it is what a new one would be");
    }

    #[test]
    fn a_device_no_longer_subscribed_is_forgotten_and_a_device_remembers_a_bounded_number_shown() {
        let mut pushes = phone_held_back();
        pushes.owe(plan(&[app_in(CONVERSATION, 9, &[])], &[subscription(PHONE)], &both_unmuted()));
        pushes.keep_devices(&[LAPTOP]);
        assert!(pushes.is_empty() && pushes.buckets.is_empty() && !pushes.concerns(CONVERSATION));
        let mut pushes = Coalescer::default();
        for n in 0..(MAX_SHOWN_CONVERSATIONS as u128 + 5) {
            let conversation = Uuid::from_u128(1000 + n);
            pushes.owe(vec![(subscription(PHONE), app_in(conversation, 1, &[]).payload)]);
            pushes.due(n as f64 * 10_000.0);
        }
        assert_eq!(pushes.shown[&PHONE].len(), MAX_SHOWN_CONVERSATIONS);
        assert!(pushes.concerns(Uuid::from_u128(1000 + MAX_SHOWN_CONVERSATIONS as u128 + 4)), "the newest is kept");
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
