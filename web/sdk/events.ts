// What the client tells the app, and the little emitter every part of the SDK tells it through.

import type { ConnectionState, ServerEventOf, SessionEndReason } from './socket.ts';
import type { LocalMessage, Problem } from './store.ts';
import type { UserSummary } from './wire/index.ts';

export interface ClientEvents {
  message: LocalMessage;
  status: LocalMessage;
  problem: Problem;
  /** As the server pushed it: who is typing where. */
  typing: Omit<ServerEventOf<'typing'>, 'type'>;
  /** As the server pushed it: who came online or went offline. */
  presence: Omit<ServerEventOf<'presence'>, 'type'>;
  conversation: { conversationId: string; change: 'joined' | 'updated' | 'removed' };
  connection: ConnectionState;
  'user-registered': UserSummary;
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

  emit<K extends keyof ClientEvents>(event: K, value: ClientEvents[K]): void {
    for (const listener of this.listeners.get(event) ?? []) (listener as (v: ClientEvents[K]) => void)(value);
  }
}
