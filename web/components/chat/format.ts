// How conversations, people and times are named on screen. Dates follow the reader's locale and
// local clock.

import type { Conversation, LocalMessage } from '../../sdk/client.ts';

/** A conversation's name: the SDK's, which its notifications use too. */
export { conversationTitle as titleOf } from '../../sdk/conversations.ts';

/** The other person in a direct conversation; groups have none. */
export function peerOf(c: Conversation, me: string): string | null {
  return c.kind === 'direct' ? (c.members.find((m) => m.userId !== me)?.userId ?? null) : null;
}

/** Calendar days from `iso` to today by the local clock (a day is not always 24 hours). */
function daysAgo(iso: string): number {
  const midnight = (d: Date) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
  return Math.round((midnight(new Date()) - midnight(new Date(iso))) / 86_400_000);
}

/** For the separators between days in a conversation. */
export function dayLabel(iso: string): string {
  const days = daysAgo(iso);
  if (days === 0) return 'Today';
  if (days === 1) return 'Yesterday';
  return new Date(iso).toLocaleDateString(undefined, { weekday: 'long', month: 'short', day: 'numeric' });
}

export function timeLabel(iso: string): string {
  return new Date(iso).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
}

/** For the conversation list: the time today, then "Yesterday", the weekday within a week, else the date. */
export function whenLabel(iso: string): string {
  const days = daysAgo(iso);
  if (days === 0) return timeLabel(iso);
  if (days === 1) return 'Yesterday';
  if (days < 7) return new Date(iso).toLocaleDateString(undefined, { weekday: 'long' });
  return new Date(iso).toLocaleDateString(undefined, { dateStyle: 'short' });
}

export function lastSeenLabel(iso: string | null): string {
  if (!iso) return 'offline';
  const days = daysAgo(iso);
  const day = days === 0 ? 'today' : days === 1 ? 'yesterday' : new Date(iso).toLocaleDateString(undefined, { dateStyle: 'short' });
  return `last seen ${day} at ${timeLabel(iso)}`;
}

/** A disappearing-messages timer as people say it: "1 hour", "1 day", "1 week", "90 days". */
export function timerLabel(seconds: number): string {
  const days = seconds / 86_400;
  if (days >= 1) return days === 7 ? '1 week' : days === 1 ? '1 day' : `${days} days`;
  const hours = seconds / 3600;
  return hours === 1 ? '1 hour' : `${hours} hours`;
}

/** A file's size as people read it, in the units the limits are given in (1 MB = 2^20 bytes):
 * "820 B", "14 KB", "3.2 MB", "100 MB". */
export function sizeLabel(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  const mb = bytes / (1024 * 1024);
  return `${mb < 10 ? mb.toFixed(1) : Math.round(mb)} MB`;
}

/** A message in a line (a quote, a preview): its text, or the files it carries. */
export function lineOf(m: Pick<LocalMessage, 'text' | 'attachments'>): string {
  if (m.text || !m.attachments?.length) return m.text;
  const [first] = m.attachments;
  const more = m.attachments.length > 1 ? ` and ${m.attachments.length - 1} more` : '';
  return `📎 ${first.filename ?? (first.contentType.startsWith('image/') ? 'Photo' : 'File')}${more}`;
}
