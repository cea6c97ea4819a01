import { useEffect, useRef, useState, type KeyboardEvent } from 'react';
import { EMOJI, QUICK_REACTIONS } from './emoji.ts';

export interface MessageMenuActions {
  /** The reader's own reaction on the message, if any: choosing it again takes it back. */
  myReaction: string | null;
  canReact: boolean;
  canReply: boolean;
  canEdit: boolean;
  /** It is a reply: "Go to quoted message". */
  hasQuote: boolean;
  /** Its sender may, and in a group its owner and admins. */
  canDeleteForEveryone: boolean;
  onReact: (emoji: string) => void;
  onReply: () => void;
  onEdit: () => void;
  onGoToQuote: () => void;
  onDeleteForMe: () => void;
  onDeleteForEveryone: () => void;
  /** Closes the menu; focus goes back to the message. */
  onClose: () => void;
  /** Closes the menu where focus has gone elsewhere already (Tab, a click away): it stays there. */
  onDismiss: () => void;
}

/**
 * What can be done with one message: react (six in one tap, or any from the picker, which
 * searches by name), reply, edit one's own, delete for me, delete for everyone (asked once more).
 * A menu as ARIA describes one: arrow keys move between its items, Escape closes it and focus
 * goes back to the message; the picker is a search box and a grid of buttons.
 */
export function MessageMenu(props: MessageMenuActions) {
  const [mode, setMode] = useState<'menu' | 'picker' | 'confirm' | 'confirm-mine'>('menu');
  const root = useRef<HTMLDivElement>(null);
  const { onDismiss } = props;

  useEffect(() => {
    // In view, even for the newest message at the bottom of the list.
    root.current?.scrollIntoView({ block: 'nearest' });
    const first = root.current?.querySelector<HTMLElement>(mode === 'picker' ? 'input' : '[role="menuitem"], button');
    first?.focus();
  }, [mode]);

  useEffect(() => {
    // A press anywhere else closes it, as a menu does (but on its own ⋯ button, which toggles it).
    const away = (e: PointerEvent) => {
      const target = e.target as Element;
      if (!root.current?.contains(target) && !target.closest?.('[data-testid="message-actions"][aria-expanded="true"]')) onDismiss();
    };
    document.addEventListener('pointerdown', away);
    return () => document.removeEventListener('pointerdown', away);
  }, [onDismiss]);

  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      e.stopPropagation();
      if (mode === 'menu') props.onClose();
      else setMode('menu');
      return;
    }
    if (mode !== 'menu' || !['ArrowDown', 'ArrowUp', 'ArrowLeft', 'ArrowRight', 'Home', 'End'].includes(e.key)) return;
    const items = [...e.currentTarget.querySelectorAll<HTMLElement>('[role="menuitem"]')];
    const at = items.indexOf(document.activeElement as HTMLElement);
    e.preventDefault();
    e.stopPropagation();
    const step = e.key === 'ArrowDown' || e.key === 'ArrowRight' ? 1 : -1;
    const next = e.key === 'Home' ? 0 : e.key === 'End' ? items.length - 1 : (at + step + items.length) % items.length;
    items[next]?.focus();
  };

  const item = 'block w-full rounded px-3 py-1.5 text-left text-sm hover:bg-slate-100 focus:bg-slate-100 focus:outline-none dark:hover:bg-slate-700 dark:focus:bg-slate-700';
  return (
    <div ref={root} onKeyDown={onKeyDown} data-testid="message-menu"
      // Tab, or focus going anywhere else, closes it, as the ARIA menu pattern does.
      onBlur={(e) => { if (!root.current?.contains(e.relatedTarget as Node)) props.onDismiss(); }}
      className="z-20 mt-1 w-64 rounded-xl border border-slate-200 bg-white p-1 shadow-lg dark:border-slate-700 dark:bg-slate-800">
      {mode === 'menu' && (
        <div role="menu" aria-label="Message actions">
          {props.canReact && (
            <div className="flex justify-between px-1 pb-1">
              {QUICK_REACTIONS.map((emoji) => (
                <button key={emoji} type="button" role="menuitem" tabIndex={-1} onClick={() => props.onReact(emoji)}
                  aria-label={props.myReaction === emoji ? `Remove your reaction ${emoji}` : `React ${emoji}`}
                  className={`rounded-full p-1 text-lg hover:bg-slate-100 focus:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 dark:hover:bg-slate-700 dark:focus:bg-slate-700 ${props.myReaction === emoji ? 'bg-brand-100 dark:bg-brand-700/60' : ''}`}>
                  {emoji}
                </button>
              ))}
            </div>
          )}
          {props.canReact && <button type="button" role="menuitem" tabIndex={-1} className={item} onClick={() => setMode('picker')}>More reactions…</button>}
          {props.canReply && <button type="button" role="menuitem" tabIndex={-1} className={item} onClick={props.onReply}>Reply</button>}
          {props.hasQuote && <button type="button" role="menuitem" tabIndex={-1} className={item} onClick={props.onGoToQuote}>Go to quoted message</button>}
          {props.canEdit && <button type="button" role="menuitem" tabIndex={-1} className={item} onClick={props.onEdit}>Edit</button>}
          <button type="button" role="menuitem" tabIndex={-1} className={item} onClick={() => setMode('confirm-mine')}>Delete for me…</button>
          {props.canDeleteForEveryone && (
            <button type="button" role="menuitem" tabIndex={-1} className={`${item} text-red-700 dark:text-red-300`} onClick={() => setMode('confirm')}>Delete for everyone…</button>
          )}
        </div>
      )}
      {mode === 'picker' && <EmojiPicker myReaction={props.myReaction} onPick={props.onReact} />}
      {(mode === 'confirm' || mode === 'confirm-mine') && (
        <div role="group" aria-labelledby="delete-question" className="p-2 text-sm">
          <p id="delete-question">{mode === 'confirm'
            ? <>Delete this message for everyone? It is replaced by &ldquo;This message was deleted&rdquo; on every device.</>
            : <>Delete this message from this device? The others keep it.</>}</p>
          <div className="mt-2 flex justify-end gap-2">
            <button type="button" onClick={() => setMode('menu')} className="rounded-full px-3 py-1 hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 dark:hover:bg-slate-700">Cancel</button>
            <button type="button" onClick={mode === 'confirm' ? props.onDeleteForEveryone : props.onDeleteForMe}
              className="rounded-full bg-red-700 px-3 py-1 font-medium text-white hover:bg-red-800 focus:outline-none focus-visible:ring-2 focus-visible:ring-red-500">
              {mode === 'confirm' ? 'Delete for everyone' : 'Delete for me'}
            </button>
          </div>
        </div>
      )}
    </div>
  );
}

/** Any emoji of the common set, found by typing a word of its name. */
function EmojiPicker({ myReaction, onPick }: { myReaction: string | null; onPick: (emoji: string) => void }) {
  const [query, setQuery] = useState('');
  const words = query.trim().toLowerCase().split(/\s+/).filter(Boolean);
  const shown = EMOJI.filter(({ name }) => words.every((w) => name.split(' ').some((n) => n.startsWith(w))));
  return (
    <div className="p-1">
      <label htmlFor="emoji-search" className="sr-only">Search emoji</label>
      <input id="emoji-search" type="search" value={query} onChange={(e) => setQuery(e.target.value)} placeholder="Search emoji" autoComplete="off"
        onKeyDown={(e) => { if (e.key === 'Enter' && shown[0]) { e.preventDefault(); onPick(shown[0].emoji); } }}
        className="w-full rounded-lg border border-slate-300 bg-white px-2 py-1 text-sm outline-none focus:border-brand-500 focus:ring-2 focus:ring-brand-500/40 dark:border-slate-600 dark:bg-slate-900" />
      <p role="status" className="sr-only">{shown.length} emoji</p>
      <ul aria-label="Emoji" className="mt-1 grid max-h-48 grid-cols-8 gap-0.5 overflow-y-auto">
        {shown.map(({ emoji, name }) => (
          <li key={emoji}>
            <button type="button" onClick={() => onPick(emoji)} aria-label={myReaction === emoji ? `Remove your reaction ${emoji}` : undefined} title={name}
              className="flex size-8 items-center justify-center rounded text-xl hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 dark:hover:bg-slate-700">
              {emoji}
            </button>
          </li>
        ))}
      </ul>
      {shown.length === 0 && <p className="p-2 text-center text-xs text-muted">No emoji match.</p>}
    </div>
  );
}
