// Disappearing messages on this device: each message with an expiry (MIMI `expires`, set by its
// sender from the conversation's timer) is deleted from this device's store when it comes, as on
// every other member's device; the server deletes its ciphertext too (see the sweep in src/).

import type { Emitter } from './events.ts';
import type { Session } from './session.ts';

/** setTimeout's longest delay (about 24.8 days); a later expiry is looked at again then. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class Expiry {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly session: Session;
  private readonly events: Emitter;
  /** The time, in milliseconds since the epoch (a test may move it on). */
  private readonly now: () => number;

  constructor(session: Session, events: Emitter, now: () => number = Date.now) {
    this.session = session;
    this.events = events;
    this.now = now;
  }

  /** Deletes every message whose time has come, then waits for the next one's. */
  async sweep(): Promise<void> {
    if (!this.session.store) return;
    for (const message of await this.session.db.expired(this.now())) {
      await this.session.db.deleteMessage(message.key);
      this.events.emit('removed', { conversationId: message.conversationId, key: message.key });
    }
    await this.schedule();
  }

  /** Whether a message expiring at `expiresAt` is gone already (and so not to be kept at all). */
  isPast(expiresAt: number | undefined): boolean {
    return expiresAt !== undefined && expiresAt <= this.now();
  }

  /** A message with an expiry was stored: make sure the timer is set for the soonest. */
  async schedule(): Promise<void> {
    this.stop();
    const next = this.session.store ? await this.session.db.nextExpiry() : undefined;
    if (next === undefined) return;
    this.timer = setTimeout(() => void this.sweep().catch(() => {}), Math.min(MAX_TIMER_MS, Math.max(0, next - this.now())));
    // In Node (tests, scripts) a timer for days ahead must not keep the process alive.
    (this.timer as { unref?: () => void }).unref?.();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
