//! The hub's RPC methods: what other hubs and the REST handlers call on a hub's stub
//! (`client::deliver`, `client::disconnect`), instead of an HTTP-shaped `fetch`. A call is one
//! JavaScript method call on the stub with a string argument: no Request or Response to build,
//! no headers, no body stream to read, which was most of what a hub-to-hub delivery cost.
//!
//! workerd offers RPC only on classes that extend `DurableObject`; the class wasm-bindgen makes
//! does not, so `src/worker.mjs` (the Worker's entry) declares the `UserHub` that does and hands
//! every call to this one.

use super::UserHub;
use crate::error::log_error;
use crate::protocol::Disconnect;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
impl UserHub {
    /// Events for every socket of this hub's user, one per line (`deliveries::EVENT_SEPARATOR`),
    /// each already serialized: they are passed on as they are.
    #[wasm_bindgen(js_name = deliver)]
    pub async fn rpc_deliver(&self, events: String) {
        self.receive_delivery(&events).await;
    }

    /// One of the user's devices subscribed to pushes (`client::push_subscriptions_changed`).
    #[wasm_bindgen(js_name = pushSubscriptionsChanged)]
    pub fn rpc_push_subscriptions_changed(&self) {
        self.push_subscriptions_changed();
    }

    /// Closes the sockets that `which` (a serialized `Disconnect`) names. Throws when `which` is
    /// not one, and once when a test asks (`Config::hub_refuses_first_disconnect`), so the caller
    /// retries as it would after a failed call.
    #[wasm_bindgen(js_name = disconnect)]
    pub async fn rpc_disconnect(&self, which: String) -> Result<(), JsError> {
        if self.refuse_next_disconnect.replace(false) {
            log_error("hub.disconnect", "refused this disconnect, as TEST_HUB_REFUSES_FIRST_DISCONNECT asks");
            return Err(JsError::new("refused for a test"));
        }
        let which: Disconnect = serde_json::from_str(&which).map_err(|e| JsError::new(&e.to_string()))?;
        self.disconnect(which).await;
        Ok(())
    }
}
