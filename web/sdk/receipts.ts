// The receipts this device sends for what it has received and read. Each is kept, in memory and
// in the store, until the server acknowledges it: one made while offline, or just before the page
// closed, still reaches the sender.

import type { Session } from './session.ts';
import { EventError } from './socket.ts';
import type { ReceiptKind, ReceiptRequest } from './wire/index.ts';

/** Where the store keeps receipts made but not yet acknowledged by the server, across page loads
 * (each as the `receipt` event that sends it). */
const RECEIPT_PREFIX = 'receipt:';

export class Receipts {
  /** Receipts the server has not acknowledged yet, by message id; (re)sent whenever the socket is ready. */
  private readonly waiting = new Map<string, ReceiptKind>();
  private readonly session: Session;

  constructor(session: Session) {
    this.session = session;
  }

  /** Takes up the receipts a previous session on this device did not get sent. */
  async load(): Promise<void> {
    for (const { messageId, kind } of await this.session.db.withPrefix<ReceiptRequest>(RECEIPT_PREFIX)) {
      if (this.waiting.get(messageId) !== 'read') this.waiting.set(messageId, kind);
    }
  }

  send(messageId: string, kind: ReceiptKind): void {
    if (this.waiting.get(messageId) === 'read') return; // read says delivered too
    this.waiting.set(messageId, kind);
    void this.session.store?.put(RECEIPT_PREFIX + messageId, { messageId, kind } satisfies ReceiptRequest).catch(() => {});
    if (this.session.socket?.state === 'open') this.post(messageId, kind); // else the next `ready` does
  }

  /** The socket is (again) ready: sends every receipt still waiting. */
  resend(): void {
    for (const [messageId, kind] of this.waiting) this.post(messageId, kind);
  }

  private post(messageId: string, kind: ReceiptKind): void {
    const done = () => {
      // Unless a stronger receipt for the message is waiting by now.
      if (this.waiting.get(messageId) !== kind) return;
      this.waiting.delete(messageId);
      void this.session.store?.delete(RECEIPT_PREFIX + messageId).catch(() => {});
    };
    this.session.socket!.request({ type: 'receipt', messageId, kind }).then(done, (e) => {
      // A refusal (e.g. no longer a member) is final; a lost connection sends it again at `ready`.
      const lost = e instanceof EventError && (e.code === 'disconnected' || e.code === 'timeout');
      if (!lost) done();
    });
  }
}
