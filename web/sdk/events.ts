// What the client tells the app, and the little emitter every part of the SDK tells it through.

import type { ConnectionState, ServerEventOf, SessionEndReason } from './socket.ts';
import type { LocalMessage, Notice, Problem } from './store.ts';
import type { LinkPrompt, LinkStatus } from './linking.ts';
import type { UserSummary } from './wire/index.ts';

export interface ClientEvents {
  message: LocalMessage;
  status: LocalMessage;
  /** A message changed: a reaction, an edit, or deleted for everyone (what it is now). */
  changed: LocalMessage;
  /** A message is gone from this device: deleted here ("delete for me"), or it disappeared. */
  removed: { conversationId: string; key: string };
  problem: Problem;
  /** As the server pushed it: who is typing where. */
  typing: Omit<ServerEventOf<'typing'>, 'type'>;
  /** As the server pushed it: who came online or went offline. */
  presence: Omit<ServerEventOf<'presence'>, 'type'>;
  /** `removed`: by someone else's commit; `left`: this user left it (on this device or another). */
  conversation: { conversationId: string; change: 'joined' | 'updated' | 'removed' | 'left' };
  connection: ConnectionState;
  'user-registered': UserSummary;
  /** A line this device wrote into a conversation's history itself ("Ana's devices changed"). */
  notice: Notice;
  /** A user's device set, as the directory lists it, differs from the one this device knew
   * (`own`: this user's). Their safety numbers changed. */
  'devices-changed': { userId: string; own: boolean };
  /** A contact was marked verified, or the mark was cleared or dropped (their devices, or this
   * user's, changed). */
  verification: { userId: string; verified: boolean };
  /** This browser waits to be linked: show this code, to be typed on one of the account's
   * devices (a new code comes when one expires). */
  'link-code': LinkPrompt;
  /** How the wait to be linked stands: `unreachable` (the server is out of reach; still trying),
   * `waiting` again, or `approved` (this browser is being set up). */
  'link-status': LinkStatus;
  /** The server ended this session ("log out everywhere", account deleted) or removed this device. */
  'signed-out': SessionEndReason;
}

export class Emitter {
  private readonly listeners = new Map<keyof ClientEvents, Set<(value: never) => void>>();

  on<K extends keyof ClientEvents>(event: K, listener: (value: ClientEvents[K]) => void): () => void {
    const set = this.listeners.get(event) ?? new Set();
    set.add(listener as (value: never) => void);
    this.listeners.set(event, set);
    return () => set.delete(listener as (value: never) => void);
  }

  /**
   * Tells every listener. One that throws is reported and the others are still told: the SDK
   * emits from the middle of its work (a message stored, the pipeline moving on), which an app's
   * bug must not stop halfway.
   */
  emit<K extends keyof ClientEvents>(event: K, value: ClientEvents[K]): void {
    for (const listener of [...(this.listeners.get(event) ?? [])]) {
      try {
        (listener as (v: ClientEvents[K]) => void)(value);
      } catch (e) {
        console.error(`A listener of "${String(event)}" failed:`, e);
      }
    }
  }
}
