// What the client tells the app, and the little emitter every part of the SDK tells it through.

import type { UserSummary } from './api.ts';
import type { ConnectionState, SessionEnd } from './socket.ts';
import type { LocalMessage, Problem } from './store.ts';

export interface ClientEvents {
  message: LocalMessage;
  status: LocalMessage;
  problem: Problem;
  typing: { conversationId: string; userId: string; on: boolean };
  presence: { userId: string; online: boolean; lastSeen: string | null };
  conversation: { conversationId: string; change: 'joined' | 'updated' | 'removed' };
  connection: ConnectionState;
  'user-registered': UserSummary;
  /** The server ended this session ("log out everywhere", account deleted) or removed this device. */
  'signed-out': SessionEnd;
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
