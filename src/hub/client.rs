//! The calls made into a hub from outside it: by the REST handlers (`notify`, `disconnect`,
//! `broadcast_registration`, `push_subscriptions_changed`, and the headers of a `/ws` upgrade) and by other hubs (`deliver`).
//! Every one is a call on the hub's Durable Object stub, which only this Worker's code can make:
//! an RPC method call (`rpc`), except the upgrade, which is a request.

use crate::db::{users, Client};
use crate::deliveries::{delivery_bodies, MAX_DELIVERY_BYTES};
use crate::error::log_error;
use crate::protocol::{Disconnect, ServerEvent, UserSummary};
use uuid::Uuid;
use wasm_bindgen::prelude::*;
use worker::Env;

pub const BINDING: &str = "USER_HUB";
pub const HEADER_USER: &str = "X-Hub-User";
pub const HEADER_DEVICE: &str = "X-Hub-Device";
pub const HEADER_PROTOCOL: &str = "X-Hub-Protocol";
pub const HEADER_SESSION: &str = "X-Hub-Session";
pub const HEADER_EXPIRES: &str = "X-Hub-Expires";

/// Waits before each attempt of a request to a hub, for deliveries and disconnects alike: a hub
/// that failed to answer (evicted, restarting) usually answers a moment later.
const HUB_ATTEMPT_DELAYS_MS: [u64; 3] = [0, 100, 500];

/// Calls `method` on the hub of `user` until it answers, waiting `HUB_ATTEMPT_DELAYS_MS` before
/// each attempt; the last failure if none succeeded. Every hub call is safe to repeat: a delivery
/// seen twice is deduplicated by clients (by message id), and a disconnect closes what is left.
async fn call_with_retries(env: &Env, user: Uuid, method: HubMethod, argument: &str) -> Result<(), worker::Error> {
    let mut failure = None;
    for delay_ms in HUB_ATTEMPT_DELAYS_MS {
        if delay_ms > 0 {
            worker::Delay::from(std::time::Duration::from_millis(delay_ms)).await;
        }
        match call_hub(env, user, method, argument).await {
            Ok(()) => return Ok(()),
            Err(e) => failure = Some(e),
        }
    }
    Err(failure.unwrap_or_else(|| worker::Error::RustError("no attempt was made".into())))
}

/// Pushes events to every socket of `user`, through their hub: one call, or several in order when
/// they are many (`deliveries::MAX_DELIVERY_BYTES`). The events are committed (or need no commit),
/// so a failed delivery only delays them: it is tried again a little later, and what still fails
/// is caught up by that user's `sync` (their client asks when it sees a gap in seq).
pub async fn deliver(env: &Env, user: Uuid, events: Vec<String>) {
    for body in delivery_bodies(&events, MAX_DELIVERY_BYTES) {
        if let Err(e) = call_with_retries(env, user, HubMethod::Deliver, &body).await {
            log_error("hub.deliver", &format!("delivery to a hub failed {} times: {e}", HUB_ATTEMPT_DELAYS_MS.len()));
        }
    }
}

/// Closes the sockets of `user` that `which` names, tried like a delivery. Should every attempt
/// fail, the hub's own re-check of its sockets' sessions closes them within a minute
/// (`config::DEFAULT_HUB_SESSION_RECHECK_SECONDS`); meanwhile such a socket still cannot do
/// anything over REST, and its next reconnect is refused.
pub async fn disconnect(env: &Env, user: Uuid, which: Disconnect) {
    let body = match serde_json::to_string(&which) {
        Ok(body) => body,
        Err(e) => return log_error("hub.disconnect", &e.to_string()),
    };
    if let Err(e) = call_with_retries(env, user, HubMethod::Disconnect, &body).await {
        log_error(
            "hub.disconnect",
            &format!("closing a user's sockets failed {} times: {e}", HUB_ATTEMPT_DELAYS_MS.len()),
        );
    }
}

/// Tells the hub of `user` that one of their devices subscribed to pushes, so that it stops
/// taking them to have none (`hub::push`). Tried like a delivery; should it fail, the hub asks
/// the database again within a minute anyway.
pub async fn push_subscriptions_changed(env: &Env, user: Uuid) {
    if let Err(e) = call_with_retries(env, user, HubMethod::PushSubscriptionsChanged, "").await {
        log_error("hub.push_subscriptions_changed", &e.to_string());
    }
}

/// How long one call to a hub may take before it counts as failed (and is tried again): a
/// delivery waits on it, and so does every delivery of the sending hub queued behind it.
const HUB_REQUEST_DEADLINE_MS: u64 = 5_000;

/// The hub's RPC methods (`super::rpc`), as its stub offers them.
#[wasm_bindgen]
extern "C" {
    type HubStub;
    #[wasm_bindgen(method, catch)]
    fn deliver(this: &HubStub, events: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn disconnect(this: &HubStub, which: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch, js_name = pushSubscriptionsChanged)]
    fn push_subscriptions_changed(this: &HubStub) -> Result<JsValue, JsValue>;
}

#[derive(Clone, Copy)]
enum HubMethod {
    Deliver,
    Disconnect,
    PushSubscriptionsChanged,
}

/// One call of a hub's RPC method, from this Worker's code to the hub of `user`.
async fn call_hub(env: &Env, user: Uuid, method: HubMethod, argument: &str) -> worker::Result<()> {
    let stub: HubStub = env.durable_object(BINDING)?.get_by_name(&user.to_string())?.into_rpc();
    let pending = match method {
        HubMethod::Deliver => stub.deliver(argument),
        HubMethod::Disconnect => stub.disconnect(argument),
        HubMethod::PushSubscriptionsChanged => stub.push_subscriptions_changed(),
    }?;
    // An RPC call answers a thenable of its own, which a Promise adopts.
    let call = wasm_bindgen_futures::JsFuture::from(js_sys::Promise::resolve(&pending));
    let deadline = worker::Delay::from(std::time::Duration::from_millis(HUB_REQUEST_DEADLINE_MS));
    match futures_util::future::select(call, deadline).await {
        futures_util::future::Either::Left((answer, _)) => answer.map(|_| ()).map_err(worker::Error::from),
        futures_util::future::Either::Right(_) => {
            Err(worker::Error::RustError(format!("no answer within {HUB_REQUEST_DEADLINE_MS} ms")))
        }
    }
}

/// Pushes one event to every socket of `user`, through their hub. Best effort, like every
/// delivery: what is missed is caught up by listing or by `sync`.
pub async fn notify(env: &Env, user: Uuid, event: &ServerEvent) {
    deliver(env, user, vec![event.to_json()]).await;
}

/// Tells every online user about a newly registered one, so directories update live. Best
/// effort: whoever misses it sees the newcomer the next time they list users.
pub async fn broadcast_registration(env: &Env, db: &Client, user: UserSummary) {
    match users::online_ids(db, user.id).await {
        Ok(online) => {
            let event = ServerEvent::UserRegistered { user }.to_json();
            futures_util::future::join_all(online.into_iter().map(|id| deliver(env, id, vec![event.clone()]))).await;
        }
        Err(e) => log_error("hub.broadcast_registration", &e.to_string()),
    }
}
