//! Web Push from a user's hub (README "Push notifications"). A delivery only queues the messages
//! that may call for a push and sets the hub's alarm for now; the alarm (`ring_alarm`) asks the
//! database whom to push (`push::plan`), encrypts and posts, apart from any delivery: no send, ack
//! or delivery waits on a push service. What a device's rate holds back waits for a later alarm,
//! coalesced with whatever comes meanwhile.
//!
//! What the hub queued, owes and showed each device outlive the hub's instance: they are saved in
//! the hub's storage (`PUSH_STATE_KEY`) as they change (a delivery's queue with the alarm it sets,
//! each round of the alarm, a read), and an instance that takes over (the last one evicted,
//! hibernated or restarted while pushes were queued or held back) restores them before it queues,
//! reads or sends anything.

use super::{now_ms, UserHub};
use crate::config::PushSettings;
use crate::db::push::{self as db_push, SubscriptionRow};
use crate::deliveries::EVENT_SEPARATOR;
use crate::error::{log_error, ApiError, ApiResult};
use crate::protocol::PushPayload;
use crate::push::plan::{self, Coalescer, Outcome, Pushable};
use crate::push::vapid::{Authorizations, TOKEN_LIFETIME_SECS};
use crate::push::{audience, encrypt_with_fresh_keys, UserAgentKeys, VapidKey};
use serde::{Deserialize, Serialize};
use std::rc::Rc;
use uuid::Uuid;
use worker::{AbortController, Fetch, Headers, Method, Request, RequestInit, RequestRedirect};

/// How long a push service keeps a push for a device that is offline (RFC 8030 §5.2). After a
/// day a notification is stale, and the app catches up when it is opened anyway.
const PUSH_TTL_SECONDS: u32 = 86_400;
/// RFC 8030 §5.3 lists a chat message as "normal": delivered at once, unless the device saves power.
const PUSH_URGENCY: &str = "normal";
/// How long a push service may take to answer before the push counts as failed: the next round
/// of pushes waits for this one.
const PUSH_DEADLINE_MS: u64 = 10_000;
/// How long a hub takes its user to have no subscription, once the database said so, before it
/// asks again. A new subscription tells the hub at once (`client::push_subscriptions_changed`);
/// this bounds how long one whose notice was lost goes without pushes. Meanwhile a message to a
/// user without push (everyone, until their browser subscribes) costs no query at all.
const NO_SUBSCRIPTIONS_TRUSTED_MS: f64 = 60_000.0;

/// How many pushables a hub keeps queued while planning them fails (the database away): past
/// that, the oldest go (a newer message push of a conversation stands for the older ones).
const MAX_QUEUED: usize = 1_000;
/// How long a hub waits to plan again what a failed plan left queued.
const PLAN_RETRY_MS: f64 = 10_000.0;

/// Where the hub keeps what it owes and showed (`Saved`), between instances.
const PUSH_STATE_KEY: &str = "push";

/// What of `PushState` outlives the hub's instance, as saved (JSON, in one value).
#[derive(Serialize)]
struct SavedRef<'a> {
    queued: &'a [Pushable],
    coalescer: &'a Coalescer,
    due_at: Option<f64>,
}

/// `SavedRef`, as read back.
#[derive(Deserialize)]
struct Saved {
    queued: Vec<Pushable>,
    coalescer: Coalescer,
    due_at: Option<f64>,
}

/// The hub's pushes. What is queued, owed and shown is saved as it changes and restored by the
/// next instance (see the module's note); the rest is this instance's alone.
#[derive(Default)]
pub(super) struct PushState {
    /// Messages delivered since the last round, not planned yet.
    queued: Vec<Pushable>,
    coalescer: Coalescer,
    /// When the alarm is to send what is queued or owed: now after a delivery, later when a rate
    /// holds a push back.
    due_at: Option<f64>,
    /// A round is on its way (`send_pushes`).
    running: bool,
    vapid: Option<Rc<VapidKey>>,
    /// The `Authorization` header for each push service pushed to lately (pruned as it grows).
    authorizations: Authorizations,
    /// When the database last said the user has no subscription (None: not known to have none).
    none_since: Option<f64>,
    /// Whether this instance has read what an earlier one saved (`restore_pushes`).
    restored: bool,
    /// What the hub's storage holds (None: nothing), so that a round that changed nothing of it
    /// writes nothing.
    saved: Option<String>,
    /// The account was deleted (`forget_pushes`): nothing is queued, sent or saved any more, not
    /// even by a round that was on its way.
    forgotten: bool,
}

impl UserHub {
    /// Queues the messages of a delivery that may call for a push (not this user's own, not
    /// commits), noting which devices had a socket open to take them, and has the alarm send
    /// them at once. Nothing else happens here: the delivery is answered without waiting on it.
    pub(super) async fn queue_pushes(&self, events: &str) {
        if self.push_settings.is_none() || !events.split(EVENT_SEPARATOR).any(plan::is_message_event) {
            return;
        }
        let Some(me) = self.user_id() else { return };
        if self.push.borrow().none_since.is_some_and(|at| now_ms() - at < NO_SUBSCRIPTIONS_TRUSTED_MS) {
            return;
        }
        let delivered_to = self.devices_reached();
        let found: Vec<Pushable> =
            events.split(EVENT_SEPARATOR).filter_map(|event| plan::pushable(event, me, &delivered_to)).collect();
        if !found.is_empty() {
            self.restore_pushes().await;
        }
        self.queue(found).await;
    }

    /// The user read `conversation` up to the message at `seq` on `reader` (the receipt reached
    /// their other open sockets already): queues a read push for their devices with no socket
    /// open, so that those clear its notifications. Only if this hub showed a device something of
    /// that conversation (or owes one a push of it): otherwise, as for most reads, there is
    /// nothing to clear and nothing is asked of the database.
    pub(super) async fn queue_read_push(&self, conversation: Uuid, seq: i64, reader: Option<Uuid>) {
        if self.push_settings.is_none() {
            return;
        }
        self.restore_pushes().await;
        let read_there = {
            let mut state = self.push.borrow_mut();
            reader.is_some_and(|reader| state.coalescer.read_on(reader, conversation, seq))
        };
        let concerned = {
            let state = self.push.borrow();
            state.queued.iter().any(|p| p.is_message() && p.payload.conversation_id() == conversation)
                || state.coalescer.concerns(conversation)
        };
        if !concerned {
            if read_there {
                // Nothing to push: what the reader was shown is saved all the same.
                self.save_pushes().await;
            }
            return;
        }
        let mut delivered_to = self.devices_reached();
        delivered_to.extend(reader);
        // Saved with it: what the reader was shown.
        self.queue(vec![plan::read(conversation, seq, &delivered_to)]).await;
    }

    /// The devices `push_local` just reached (a socket whose token expired got nothing).
    fn devices_reached(&self) -> Vec<Uuid> {
        let now_secs = (now_ms() / 1000.0) as i64;
        self.open_sockets()
            .iter()
            .filter(|(_, info)| now_secs < info.expires_at)
            .filter_map(|(_, info)| info.device_id)
            .collect()
    }

    /// Queues `found` for the alarm's next round, saved, and has the alarm ring now.
    async fn queue(&self, found: Vec<Pushable>) {
        if found.is_empty() || self.push.borrow().forgotten {
            return;
        }
        self.push.borrow_mut().queued.extend(found);
        self.ring_now_and_save().await;
    }

    /// Has the alarm ring now for what changed, and saves it. Both writes go out together: a
    /// write holds the hub's outgoing messages until it is stored (the output gate), and setting
    /// the alarm, which a delivery did anyway, is one; the save waits alongside it, not after.
    async fn ring_now_and_save(&self) {
        let now = now_ms();
        self.push.borrow_mut().due_at = Some(now);
        futures_util::future::join(self.save_pushes(), self.alarm_no_later_than(now)).await;
    }

    /// One of the user's devices subscribed: what the hub knew of "no subscription" is stale.
    pub(super) fn push_subscriptions_changed(&self) {
        self.push.borrow_mut().none_since = None;
    }

    /// When the alarm is next needed for pushes (once `restore_pushes` has run).
    pub(super) fn pushes_due_at(&self) -> Option<f64> {
        self.push.borrow().due_at
    }

    /// Takes up what an earlier instance of this hub saved (it was evicted or hibernated with
    /// pushes owed, or having shown devices something), once per instance, before anything else
    /// touches the pushes. What this instance queued meanwhile comes after what it restores.
    pub(super) async fn restore_pushes(&self) {
        if self.push_settings.is_none() || self.push.borrow().restored {
            return;
        }
        let saved = self.state.storage().get::<String>(PUSH_STATE_KEY).await;
        let mut state = self.push.borrow_mut();
        if state.restored {
            return; // restored by another event while this one read
        }
        state.restored = true;
        let saved = match saved {
            Ok(Some(json)) => {
                let read = serde_json::from_str::<Saved>(&json).map_err(|e| e.to_string());
                // Replaced (or deleted) by the next save, readable or not.
                state.saved = Some(json);
                read
            }
            Ok(None) => return,
            Err(e) => Err(e.to_string()),
        };
        match saved {
            Ok(saved) => {
                let queued_here = std::mem::replace(&mut state.queued, saved.queued);
                state.queued.extend(queued_here);
                state.coalescer = saved.coalescer;
                state.due_at = match (state.due_at, saved.due_at) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
            // Not worth failing an event over: the next save replaces it.
            Err(e) => log_error("hub.push", &format!("restoring owed pushes failed: {e}")),
        }
    }

    /// Saves what is queued, owed and shown (or deletes what was saved, once nothing is), unless
    /// that is what the storage holds already.
    async fn save_pushes(&self) {
        let json = {
            let state = self.push.borrow();
            if state.forgotten {
                return;
            }
            let json = if state.queued.is_empty() && state.coalescer.is_empty() {
                None
            } else {
                // No message ciphertext at rest here, where a deletion for everyone would not
                // reach it: a push restored from it says "New message" and the device fetches.
                let queued: Vec<Pushable> = state.queued.iter().map(Pushable::without_ciphertext).collect();
                let coalescer = state.coalescer.without_ciphertext();
                let saved = SavedRef { queued: &queued, coalescer: &coalescer, due_at: state.due_at };
                match serde_json::to_string(&saved) {
                    Ok(json) => Some(json),
                    Err(e) => return log_error("hub.push", &format!("saving owed pushes failed: {e}")),
                }
            };
            if json == state.saved {
                return;
            }
            json
        };
        // Taken as stored from now: a later save of the same state while this one is on its way
        // is then skipped, and one of another state is written after it.
        self.push.borrow_mut().saved = json.clone();
        let storage = self.state.storage();
        let stored = match &json {
            Some(json) => storage.put(PUSH_STATE_KEY, json).await,
            None => storage.delete(PUSH_STATE_KEY).await.map(|_| ()),
        };
        if let Err(e) = stored {
            log_error("hub.push", &format!("saving owed pushes failed: {e}"));
            // Not known what is stored: a value no save makes, so that the next one writes.
            self.push.borrow_mut().saved = Some(String::new());
        }
    }

    /// The account is gone: nothing is owed or kept of its pushes, here or in the storage.
    pub(super) async fn forget_pushes(&self) {
        // Whether or not push is on now: it may have been when this was saved.
        *self.push.borrow_mut() = PushState { restored: true, forgotten: true, ..Default::default() };
        if let Err(e) = self.state.storage().delete(PUSH_STATE_KEY).await {
            log_error("hub.push", &format!("forgetting owed pushes failed: {e}"));
        }
    }

    /// The alarm's part: plans what was queued, and sends every push that may go, round after
    /// round while more is queued meanwhile; per device and round, one push per conversation (for
    /// its newest message, or a read that covers it), as many as the device's rate allows. Then
    /// sets when what the rates held back may go.
    pub(super) async fn send_pushes(&self) {
        {
            let mut state = self.push.borrow_mut();
            if state.running {
                return; // the round on its way takes what was queued
            }
            state.running = true;
            state.due_at = None;
        }
        loop {
            let queued = std::mem::take(&mut self.push.borrow_mut().queued);
            let mut planned_now = false;
            if let Some(me) = self.user_id().filter(|_| !queued.is_empty()) {
                match self.plan_pushes(me, &queued).await {
                    Ok(planned) => {
                        self.push.borrow_mut().coalescer.owe(planned);
                        planned_now = true;
                    }
                    Err(e) => {
                        log_error("hub.push", &format!("planning pushes failed: {e}"));
                        // Planned again at the next round (a delivery's or the retry below).
                        let mut state = self.push.borrow_mut();
                        let newer = std::mem::replace(&mut state.queued, queued);
                        state.queued.extend(newer);
                        let excess = state.queued.len().saturating_sub(MAX_QUEUED);
                        state.queued.drain(..excess);
                        break;
                    }
                }
            }
            if self.push.borrow().forgotten {
                break;
            }
            let mut due = self.push.borrow_mut().coalescer.due(now_ms());
            if due.is_empty() && self.push.borrow().queued.is_empty() {
                break;
            }
            if !planned_now && !due.is_empty() {
                // Owed since an earlier round (held back by the rate): the device may have been
                // signed out, removed or unsubscribed since, so only those still listed get it.
                due = self.still_subscribed(due).await;
            }
            if self.push.borrow().forgotten {
                break;
            }
            // Saved before they go: a hub restarted while they are on their way (up to
            // PUSH_DEADLINE_MS) neither sends them again nor forgets what is left.
            self.save_pushes().await;
            futures_util::future::join_all(due.into_iter().map(|(to, payload)| self.send_push(to, payload))).await;
        }
        {
            let mut state = self.push.borrow_mut();
            state.running = false;
            let now = now_ms();
            state.due_at = state.coalescer.wait_ms(now).map(|wait| now + wait);
            if !state.queued.is_empty() {
                // Left by a failed plan: tried again in a while, not in a loop.
                state.due_at = Some(now + PLAN_RETRY_MS);
            }
        }
        self.save_pushes().await;
    }

    /// Of `due`, the pushes whose subscription is still listed for a signed-in device (none if
    /// that cannot be asked: a push held back is better dropped than sent to a signed-out browser).
    async fn still_subscribed(&self, due: Vec<(SubscriptionRow, PushPayload)>) -> Vec<(SubscriptionRow, PushPayload)> {
        let Some(me) = self.user_id() else { return Vec::new() };
        let listed = async { Ok::<_, ApiError>(db_push::of_user(&self.conn().await?.client, me).await?) };
        match listed.await {
            Ok(listed) => due
                .into_iter()
                .filter(|(to, _)| listed.iter().any(|l| l.device_id == to.device_id && l.endpoint == to.endpoint))
                .collect(),
            Err(e) => {
                log_error("hub.push", &format!("re-checking subscriptions failed: {e}"));
                Vec::new()
            }
        }
    }

    /// The push each subscribed device is owed for `queued`, from the user's subscriptions and
    /// the conversations of its messages they have not muted (asked at once, one round trip).
    async fn plan_pushes(&self, me: Uuid, queued: &[Pushable]) -> ApiResult<Vec<(SubscriptionRow, PushPayload)>> {
        let conn = self.conn().await?;
        // A read is pushed muted or not (it clears what was shown before the mute).
        let mut conversations: Vec<Uuid> =
            queued.iter().filter(|p| p.is_message()).map(|p| p.payload.conversation_id()).collect();
        conversations.sort_unstable();
        conversations.dedup();
        let (subscriptions, unmuted) = futures_util::future::join(db_push::of_user(&conn.client, me), async {
            if conversations.is_empty() {
                return Ok(Vec::new());
            }
            db_push::unmuted(&conn.client, me, &conversations).await
        })
        .await;
        let subscriptions = subscriptions?;
        {
            let mut state = self.push.borrow_mut();
            state.none_since = subscriptions.is_empty().then(now_ms);
            let devices: Vec<Uuid> = subscriptions.iter().map(|s| s.device_id).collect();
            state.coalescer.keep_devices(&devices);
        }
        if subscriptions.is_empty() {
            return Ok(Vec::new());
        }
        Ok(plan::plan(queued, &subscriptions, &unmuted?.into_iter().collect()))
    }

    /// Sends one push; a subscription its push service says is gone is deleted. Failures are
    /// logged by the push service's origin, never the endpoint (which is a capability).
    async fn send_push(&self, to: SubscriptionRow, payload: PushPayload) {
        let service = audience(&to.endpoint).unwrap_or_default();
        match self.post_push(&to, &payload).await {
            Ok(Outcome::Accepted) => {}
            Ok(Outcome::Gone) => {
                let forgotten = async {
                    Ok::<_, crate::error::ApiError>(
                        db_push::forget(&self.conn().await?.client, to.device_id, &to.endpoint).await?,
                    )
                };
                if let Err(e) = forgotten.await {
                    log_error("hub.push", &format!("deleting a gone subscription failed: {e}"));
                }
            }
            Ok(Outcome::Failed) => log_error("hub.push", &format!("{service} refused a push")),
            Err(e) => log_error("hub.push", &format!("a push to {service} failed: {e}")),
        }
    }

    /// Encrypts `payload` to the subscription (RFC 8291), signs (RFC 8292) and posts it (RFC 8030).
    async fn post_push(&self, to: &SubscriptionRow, payload: &PushPayload) -> Result<Outcome, String> {
        let keys = UserAgentKeys::new(&to.p256dh, &to.auth).map_err(|e| format!("{e:?}"))?;
        let body = encrypt_with_fresh_keys(&payload.to_bytes(), &keys).map_err(|e| format!("{e:?}"))?;
        let service = audience(&to.endpoint).ok_or("the endpoint is no http(s) URL")?;
        let headers = Headers::new();
        let set = |name: &str, value: &str| headers.set(name, value).map_err(|e| e.to_string());
        set("TTL", &PUSH_TTL_SECONDS.to_string())?;
        set("Urgency", PUSH_URGENCY)?;
        set("Content-Encoding", "aes128gcm")?;
        set("Content-Type", "application/octet-stream")?;
        set("Authorization", &self.vapid_authorization(&service)?)?;
        let mut init = RequestInit::new();
        let bytes = js_sys::Uint8Array::from(body.as_slice());
        // Never followed: only the endpoint was checked (`validate_endpoint`), not where a redirect
        // would send the post; a 3xx answer counts as a failed push.
        init.with_method(Method::Post)
            .with_headers(headers)
            .with_body(Some(bytes.into()))
            .with_redirect(RequestRedirect::Manual);
        let request = Request::new_with_init(&to.endpoint, &init).map_err(|e| e.to_string())?;
        let controller = AbortController::default();
        let fetch = Fetch::Request(request);
        let signal = controller.signal();
        let sent = fetch.send_with_signal(&signal);
        let deadline = worker::Delay::from(std::time::Duration::from_millis(PUSH_DEADLINE_MS));
        futures_util::pin_mut!(sent);
        match futures_util::future::select(sent, deadline).await {
            futures_util::future::Either::Left((answer, _)) => {
                Ok(plan::outcome(answer.map_err(|e| e.to_string())?.status_code()))
            }
            futures_util::future::Either::Right(_) => {
                controller.abort();
                Err(format!("no answer within {PUSH_DEADLINE_MS} ms"))
            }
        }
    }

    /// `vapid t=…, k=…` for a push service: one token per service, signed again after
    /// `TOKEN_REUSE_SECS` (an ECDSA signature per push would be wasted work).
    fn vapid_authorization(&self, service: &str) -> Result<String, String> {
        let settings: &PushSettings = self.push_settings.as_ref().ok_or("push is off")?;
        let now = now_ms();
        let mut state = self.push.borrow_mut();
        if let Some(header) = state.authorizations.get(service, now) {
            return Ok(header.to_string());
        }
        let key = match &state.vapid {
            Some(key) => key.clone(),
            None => {
                let key = Rc::new(VapidKey::from_base64url(&settings.private_key)?);
                state.vapid = Some(key.clone());
                key
            }
        };
        let header = key.authorization(service, &settings.subject, (now / 1000.0) as i64 + TOKEN_LIFETIME_SECS);
        state.authorizations.insert(service, header.clone(), now);
        Ok(header)
    }
}
