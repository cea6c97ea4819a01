// The Worker's entry (wrangler.toml `main`): what worker-build generated from the Rust crate
// (build/index.js), plus the one thing it cannot declare. workerd offers RPC only on
// Durable Object classes that extend `DurableObject`, and the generated `UserHub` does not (it is
// the wasm-bindgen class, behind a Proxy that restarts the wasm instance after a panic). So the
// `UserHub` bound in wrangler.toml is this class: it extends `DurableObject` and hands every
// call, the hibernation API's events and the hub's RPC methods (src/hub/rpc.rs) alike, to one
// instance of the generated class, keeping its panic recovery.
import { DurableObject } from "cloudflare:workers";
import Worker, { UserHub as GeneratedHub } from "../build/index.js";

export default Worker;

export class UserHub extends DurableObject {
  #hub;

  constructor(ctx, env) {
    super(ctx, env);
    this.#hub = new GeneratedHub(ctx, env);
  }

  fetch(request) {
    return this.#hub.fetch(request);
  }

  alarm(alarmInfo) {
    return this.#hub.alarm(alarmInfo);
  }

  webSocketMessage(ws, message) {
    return this.#hub.webSocketMessage(ws, message);
  }

  webSocketClose(ws, code, reason, wasClean) {
    return this.#hub.webSocketClose(ws, code, reason, wasClean);
  }

  webSocketError(ws, error) {
    return this.#hub.webSocketError(ws, error);
  }

  // RPC (src/hub/rpc.rs): called by this Worker's own code only, through the USER_HUB binding.
  deliver(events) {
    return this.#hub.deliver(events);
  }

  disconnect(which) {
    return this.#hub.disconnect(which);
  }

  pushSubscriptionsChanged() {
    return this.#hub.pushSubscriptionsChanged();
  }
}
