// Notifications, the SDK's side: registering this device's push subscription with the server and
// each conversation's mute. The browser part (asking permission, `pushManager.subscribe` in the
// service worker's registration) belongs to the app; it hands the subscription it got here.
// Nothing here carries message text: a push says only which conversation and seq came (see
// PushPayload in ./wire/push.ts).

import type { Api } from './api.ts';
import type { NotificationSettings } from './wire/index.ts';

/** The mutes people pick from: for 8 hours, for a week, until they unmute, or not muted. */
export type MuteChoice = '8-hours' | 'week' | 'always' | 'off';

const HOUR_MS = 60 * 60 * 1000;

/** What the server is told for a choice made at `now`: a time, "always", or null (unmuted). */
export function mutedUntil(choice: MuteChoice, now = new Date()): string | null {
  switch (choice) {
    case '8-hours':
      return new Date(now.getTime() + 8 * HOUR_MS).toISOString();
    case 'week':
      return new Date(now.getTime() + 7 * 24 * HOUR_MS).toISOString();
    case 'always':
      return 'always';
    case 'off':
      return null;
  }
}

/** Whether a conversation is muted at `now`, by the server's settings. */
export function isMuted(settings: NotificationSettings, now = new Date()): boolean {
  const until = settings.mutedUntil;
  return until === 'always' || (until !== null && Date.parse(until) > now.getTime());
}

/** The parts of a browser's `PushSubscription.toJSON()` the server takes. */
export interface BrowserPushSubscription {
  endpoint?: string;
  keys?: Record<string, string>;
}

export class Notifications {
  private readonly api: Api;

  constructor(api: Api) {
    this.api = api;
  }

  /** The key to pass as `applicationServerKey` to `pushManager.subscribe`; null when the server has push off. */
  async serverKey(): Promise<string | null> {
    return (await this.api.call('GET /push/vapid-public-key', {})).publicKey;
  }

  /** Pushes go to this device at `subscription` (replacing any it had) while it has no open socket. */
  async subscribe(subscription: BrowserPushSubscription): Promise<void> {
    const { endpoint, keys } = subscription;
    if (!endpoint || !keys?.p256dh || !keys.auth) throw new TypeError('a push subscription has an endpoint and its p256dh and auth keys');
    await this.api.call('POST /devices/me/push', { body: { endpoint, keys: { p256dh: keys.p256dh, auth: keys.auth } } });
  }

  /** No more pushes to this device. */
  async unsubscribe(): Promise<void> {
    await this.api.call('DELETE /devices/me/push', {});
  }

  settings(conversationId: string): Promise<NotificationSettings> {
    return this.api.call('GET /conversations/:id/notifications', { params: { id: conversationId } });
  }

  /** Mutes (or unmutes) a conversation for this user, on all their devices. */
  mute(conversationId: string, choice: MuteChoice, now = new Date()): Promise<NotificationSettings> {
    return this.api.call('PUT /conversations/:id/notifications', {
      params: { id: conversationId },
      body: { mutedUntil: mutedUntil(choice, now) },
    });
  }
}
