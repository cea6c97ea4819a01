import { useRef, useState } from 'react';
import type { ChatClient, LocalMessage } from '../../sdk/client.ts';
import { lazyPanel } from './LoadBoundary.tsx';
import { lineOf, timeLabel } from './format.ts';
import { Ticks } from './Ticks.tsx';

// Loaded with the first message that carries a file.
const Attachment = lazyPanel(() => import('./Attachment.tsx').then((m) => m.Attachment), 'p-1');

/** How long a press on a reaction holds before it shows who reacted instead of toggling. */
const LONG_PRESS_MS = 500;

/** A message a reply quotes, as the bubble shows it: who said it and its text, or why not. */
export interface Quote {
  contentId: string;
  sender: string;
  /** Its text, or what stands in for it ("deleted", "not on this device"). */
  text: string;
  /** Whether this device holds it, so that a click can go there. */
  found: boolean;
}

/** The reactions on a message, grouped by emoji in the order first given, with who gave each. */
export function groupReactions(m: LocalMessage, nameOf: (userId: string) => string, me: string): { emoji: string; who: string[]; mine: boolean }[] {
  const groups = new Map<string, { userIds: string[] }>();
  const entries = Object.entries(m.reactions ?? {}).sort((a, b) => a[1].at.localeCompare(b[1].at));
  for (const [userId, { emoji }] of entries) {
    const group = groups.get(emoji) ?? { userIds: [] };
    group.userIds.push(userId);
    groups.set(emoji, group);
  }
  return [...groups].map(([emoji, { userIds }]) => ({ emoji, who: userIds.map(nameOf), mine: userIds.includes(me) }));
}

/**
 * One message: who said it (for assistive technology too), what it quotes, its text (or that it
 * was deleted, or needs a newer app), when, ticks and Retry on the reader's own, "edited", and its
 * reactions, each a button that toggles the reader's own and tells who reacted (on hover, and on
 * a long press on a touch screen).
 */
export function MessageBubble({ client, m, me, sender, quote, nameOf, menuOpen, onQuote, onReact, onRetry, onActions }: {
  client: ChatClient; m: LocalMessage; me: string;
  /** Whether its actions menu is open (said on the ⋯ button). */
  menuOpen: boolean;
  /** Shown above others' messages in a group; always read out. */
  sender: { name: string; shown: boolean };
  quote: Quote | null;
  nameOf: (userId: string) => string;
  onQuote: (contentId: string) => void;
  /** Toggles the reader's reaction `emoji`. */
  onReact: (emoji: string) => void;
  onRetry: () => void;
  /** Opens the message's actions, from this button. */
  onActions: (button: HTMLButtonElement) => void;
}) {
  const [showWho, setShowWho] = useState<string | null>(null);
  const pressTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const longPressed = useRef(false);
  const mine = m.senderId === me;
  const reactions = groupReactions(m, nameOf, me);
  const actionable = m.seq !== Number.MAX_SAFE_INTEGER;
  const actionsButton = useRef<HTMLButtonElement>(null);
  /** A long press on the bubble (a touch screen has no hover) opens its actions. */
  const bubblePress = useRef<ReturnType<typeof setTimeout> | null>(null);

  return (
    <div data-testid="message" data-mine={mine ? 'true' : 'false'} data-deleted={m.deleted ? 'true' : undefined}
      onPointerDown={(e) => {
        if (e.pointerType !== 'touch' || !actionable) return;
        bubblePress.current = setTimeout(() => actionsButton.current && onActions(actionsButton.current), LONG_PRESS_MS);
      }}
      onPointerUp={() => { if (bubblePress.current) clearTimeout(bubblePress.current); }}
      onPointerMove={() => { if (bubblePress.current) clearTimeout(bubblePress.current); }}
      className={`relative max-w-[80%] rounded-2xl px-3 py-1.5 shadow-sm ${mine ? 'rounded-br-md bg-brand-100 dark:bg-brand-700/60' : 'rounded-bl-md bg-white dark:bg-slate-800'}`}>
      {sender.shown && <p aria-hidden="true" className="text-xs font-semibold text-brand-700 dark:text-brand-400">{sender.name}</p>}
      {quote && (
        <button type="button" tabIndex={-1} data-testid="quote" onClick={() => onQuote(quote.contentId)} disabled={!quote.found}
          className="mb-1 block w-full rounded-lg border-l-4 border-brand-600 bg-slate-900/5 px-2 py-1 text-left text-xs enabled:hover:bg-slate-900/10 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 dark:bg-white/10">
          {/* Named by what it shows, with words around it for a screen reader. */}
          <span className="sr-only">Replying to </span>
          <span className="block font-semibold text-brand-700 dark:text-brand-400">{quote.sender}</span>
          <span className="sr-only">: </span>
          <span className="line-clamp-2 text-slate-700 dark:text-slate-200">{quote.text}</span>
          {quote.found && <span className="sr-only">. Go to that message.</span>}
        </button>
      )}
      {/* Who said it comes first for a screen reader, before any file. */}
      {m.attachments?.length && !m.deleted ? <span className="sr-only">{sender.name} sent {m.attachments.length === 1 ? 'a file' : `${m.attachments.length} files`}:</span> : null}
      {!m.deleted && m.attachments?.map((file) => <Attachment key={file.url} client={client} file={file} from={sender.name === 'You' ? 'you' : sender.name} caption={m.text} />)}
      <p className="whitespace-pre-wrap break-words">
        <span className="sr-only">{sender.name}: </span>
        {m.deleted ? <span data-testid="message-text" className="italic text-muted">{deletedText(m, me, nameOf)}</span>
          : m.unsupported ? <span data-testid="message-text" className="italic text-muted">This message needs a newer version of the app.</span>
            : <span data-testid="message-text">{m.text}</span>}
      </p>
      <p className={`text-right text-xs ${mine ? 'text-slate-600 dark:text-slate-300' : 'text-muted'}`}>
        {m.edited && !m.deleted && <span data-testid="edited">edited · </span>}
        {m.expiresAt !== undefined && !m.deleted && <span role="img" aria-label="Disappearing message">⏱ </span>}
        {timeLabel(m.createdAt)}{mine && !m.deleted && <Ticks status={m.status} />}
      </p>
      {reactions.length > 0 && (
        <ul aria-label="Reactions" className="-mb-1 mt-0.5 flex flex-wrap gap-1">
          {reactions.map(({ emoji, who, mine: reacted }) => (
            <li key={emoji}>
              <button type="button" tabIndex={-1} data-testid="reaction" title={who.join(', ')} aria-pressed={reacted}
                aria-label={`${emoji} ${who.length}: ${who.join(', ')}`}
                onPointerDown={() => {
                  longPressed.current = false;
                  pressTimer.current = setTimeout(() => { longPressed.current = true; setShowWho(emoji); }, LONG_PRESS_MS);
                }}
                onPointerUp={() => { if (pressTimer.current) clearTimeout(pressTimer.current); }}
                onPointerLeave={() => { if (pressTimer.current) clearTimeout(pressTimer.current); }}
                onClick={() => { if (!longPressed.current) onReact(emoji); }}
                className={`rounded-full border px-1.5 text-xs focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 ${reacted ? 'border-brand-600 bg-brand-50 dark:bg-brand-700/40' : 'border-slate-300 bg-white dark:border-slate-600 dark:bg-slate-800'}`}>
                {emoji} {who.length}
              </button>
            </li>
          ))}
        </ul>
      )}
      {showWho && (
        <p role="status" className="mt-1 text-xs text-muted">
          {showWho} {reactions.find((r) => r.emoji === showWho)?.who.join(', ')}{' '}
          <button type="button" className="underline" onClick={() => setShowWho(null)}>Close</button>
        </p>
      )}
      {mine && m.status === 'failed' && (
        // A failure shows here again if the retry fails too. Named with its message (every
        // failed one has this button); focus goes back to the composer as the button goes.
        <button type="button" aria-label={`Not sent — Retry “${lineOf(m)}”`} onClick={onRetry}
          className="mt-0.5 block w-full rounded text-right text-xs font-medium text-red-700 underline-offset-2 hover:underline focus:outline-none focus-visible:ring-2 focus-visible:ring-red-500 dark:text-red-300">
          Not sent — Retry
        </button>
      )}
      {actionable && (
        // The keyboard opens the same actions with Enter on the focused message (see MessageList).
        // Shown on hover, while the message has focus, and always on a screen that cannot hover.
        <button ref={actionsButton} type="button" tabIndex={-1} data-testid="message-actions" aria-label="Message actions" aria-haspopup="menu" aria-expanded={menuOpen}
          onClick={(e) => onActions(e.currentTarget)}
          className={`absolute top-1 ${mine ? '-left-8' : '-right-8'} rounded-full px-1.5 text-slate-600 opacity-0 hover:bg-slate-200 focus:opacity-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 group-hover:opacity-100 group-focus:opacity-100 group-focus-within:opacity-100 [@media(hover:none)]:opacity-100 dark:text-slate-300 dark:hover:bg-slate-700 ${menuOpen ? 'opacity-100' : ''}`}>
          ⋯
        </button>
      )}
    </div>
  );
}

/** What a message deleted for everyone says in its place, and by whom when that is known. */
function deletedText(m: LocalMessage, me: string, nameOf: (userId: string) => string): string {
  const by = m.deleted?.by;
  if (m.deleted?.unverified) return 'This message was removed by the server.';
  if (by === me) return 'You deleted this message.';
  if (by && by !== m.senderId) return `This message was deleted by ${nameOf(by)}.`;
  return 'This message was deleted.';
}
