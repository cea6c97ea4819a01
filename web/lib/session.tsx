'use client';

// The signed-in ChatClient for the whole app, restored from this browser's store on load.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { ChatClient, type SessionEndReason } from '../sdk/client.ts';

const ACCOUNT_KEY = 'e2e-chat:account';

function apiBase(): string {
  return process.env.NEXT_PUBLIC_API_URL || window.location.origin;
}

/**
 * The name this browser gets in the account's device list, e.g. "Chrome on Android": the system
 * as people call it, since navigator.platform alone says "Linux armv8l" for an Android phone and
 * "MacIntel" for a Mac. Devices that share a name are told apart by their key fingerprints.
 */
export function thisBrowserLabel(): string {
  const ua = navigator.userAgent;
  const platform = navigator.platform || '';
  // On iOS every browser is Safari underneath, and says which it is as FxiOS, EdgiOS or CriOS.
  const browser = /Firefox|FxiOS/.test(ua) ? 'Firefox' : /Edg(A|iOS)?\//.test(ua) ? 'Edge' : /Chrom|CriOS/.test(ua) ? 'Chrome' : /Safari/.test(ua) ? 'Safari' : 'Browser';
  const system = /Android/.test(ua) ? 'Android'
    : /iPhone|iPod/.test(ua) ? 'iPhone'
    // iPadOS asks for desktop pages and says it is a Mac; only its touch screen tells.
    : /iPad/.test(ua) || (platform === 'MacIntel' && navigator.maxTouchPoints > 1) ? 'iPad'
    : /CrOS/.test(ua) ? 'ChromeOS'
    : /^Mac/.test(platform) ? 'Mac'
    : /^Win/.test(platform) ? 'Windows'
    : /Linux/.test(platform) ? 'Linux'
    : platform || 'this device';
  return `${browser} on ${system}`;
}

/** Signed out: notifications on this browser stop and what they showed goes (loaded only then,
 * off the chat page's first load); a browser forgotten forgets its previews choice too. */
function forgetNotifications(forgetBrowser = false): Promise<void> {
  return import('./push.ts').then((push) => push.forgetPushHere({ forgetBrowser })).catch(() => {});
}

function newClient(): ChatClient {
  return new ChatClient({ baseUrl: apiBase(), wsUrl: process.env.NEXT_PUBLIC_WS_URL || undefined, deviceLabel: thisBrowserLabel() });
}

type Status = 'loading' | 'signed-out' | 'signed-in';

interface Session {
  status: Status;
  client: ChatClient | null;
  /** Why the server ended the last session, to say so on the login page. */
  ended: SessionEndReason | null;
  signUp(phone: string, displayName: string, password: string): Promise<void>;
  /** On a browser that is not yet one of the account's devices, stays pending while the client
   * handed to `onClient` shows codes (`link-code`) and waits to be linked; rejects with a
   * LinkFailure if linking is declined, cancelled or fails. */
  signIn(phone: string, password: string, onClient?: (client: ChatClient) => void): Promise<void>;
  /** Rejects, still signed in, if "everywhere" or "forget this browser" could not be done. */
  signOut(options?: { everywhere?: boolean; forgetDevice?: boolean }): Promise<void>;
}

const SessionContext = createContext<Session | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [status, setStatus] = useState<Status>('loading');
  const [client, setClient] = useState<ChatClient | null>(null);
  const [ended, setEnded] = useState<SessionEndReason | null>(null);

  useEffect(() => {
    const account = localStorage.getItem(ACCOUNT_KEY);
    if (!account) return setStatus('signed-out');
    const c = newClient();
    // With the server out of reach, resume signs in offline (see ChatClient.resume): only a
    // session that has ended, or a store that cannot be read, leads back to the login page.
    c.resume(account).then(
      (ok) => {
        if (ok) setClient(c);
        setStatus(ok ? 'signed-in' : 'signed-out');
      },
      () => setStatus('signed-out'),
    );
  }, []);

  // Ended from elsewhere ("log out everywhere", this device removed, the account deleted).
  useEffect(() => client?.on('signed-out', (why) => {
    localStorage.removeItem(ACCOUNT_KEY);
    void forgetNotifications();
    setEnded(why);
    setClient(null);
    setStatus('signed-out');
  }), [client]);

  const finish = useCallback((c: ChatClient) => {
    setEnded(null);
    localStorage.setItem(ACCOUNT_KEY, c.user!.id);
    setClient(c);
    setStatus('signed-in');
  }, []);

  const session = useMemo<Session>(() => ({
    status,
    client,
    ended,
    async signUp(phone, displayName, password) {
      const c = newClient();
      await c.register(phone, displayName, password);
      finish(c);
    },
    async signIn(phone, password, onClient) {
      const c = newClient();
      onClient?.(c);
      try {
        await c.login(phone, password);
      } catch (e) {
        // The password opened a session that acts as no device (linking was declined or cancelled,
        // or setting up failed): end it on the server rather than leave its token behind.
        if (c.user) await c.logout().catch(() => {});
        throw e;
      }
      finish(c);
    },
    async signOut({ everywhere = false, forgetDevice = false } = {}) {
      // Throws, and the session stays, when "everywhere" or "forget this browser" cannot reach
      // the server: saying they happened when they did not would mislead about the account's safety.
      await client?.logout({ everywhere, forgetDevice });
      localStorage.removeItem(ACCOUNT_KEY);
      // Done before the sign-out is: on a shared computer the tab may be closed at once.
      await forgetNotifications(forgetDevice);
      setClient(null);
      setStatus('signed-out');
    },
  }), [status, client, ended, finish]);

  return <SessionContext.Provider value={session}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession needs a SessionProvider');
  return session;
}
