import { useEffect, useRef, useState, type KeyboardEvent } from 'react';
import { EMOJI, QUICK_REACTIONS } from './emoji.ts';

export interface MessageMenuActions {
  /** The reader's own reaction on the message, if any: choosing it again takes it back. */
  myReaction: string | null;
  canEdit: boolean;
  /** Its sender may, and in a group its owner and admins. */
  canDeleteForEveryone: boolean;
  onReact: (emoji: string) => void;
  onReply: () => void;
  onEdit: () => void;
  onDeleteForMe: () => void;
  onDeleteForEveryone: () => void;
  /** Closes the menu; focus goes back to the message. */
  onClose: () => void;
}

/**
 * What can be done with one message: react (six in one tap, or any from the picker, which
 * searches by name), reply, edit one's own, delete for me, delete for everyone (asked once more).
 * A menu as ARIA describes one: arrow keys move between its items, Escape closes it and focus
 * goes back to the message; the picker is a search box and a grid of buttons.
 */
export function MessageMenu(props: MessageMenuActions) {
  const [mode, setMode] = useState<'menu' | 'picker' | 'confirm'>('menu');
  const root = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const first = root.current?.querySelector<HTMLElement>(mode === 'picker' ? 'input' : '[role="menuitem"], button');
    first?.focus();
  }, [mode]);

  useEffect(() => {
    // A click anywhere else closes it, as a menu does.
    const away = (e: PointerEvent) => { if (!root.current?.contains(e.target as Node)) props.onClose(); };
    document.addEventListener('pointerdown', away);
    return () => document.removeEventListener('pointerdown', away);
  }, [props]);

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
      className="z-20 mt-1 w-64 rounded-xl border border-slate-200 bg-white p-1 shadow-lg dark:border-slate-700 dark:bg-slate-800">
      {mode === 'menu' && (
        <div role="menu" aria-label="Message actions">
          <div className="flex justify-between px-1 pb-1">
            {QUICK_REACTIONS.map((emoji) => (
              <button key={emoji} type="button" role="menuitem" tabIndex={-1} onClick={() => props.onReact(emoji)}
                aria-label={props.myReaction === emoji ? `Remove your reaction ${emoji}` : `React ${emoji}`}
                className={`rounded-full p-1 text-lg hover:bg-slate-100 focus:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 dark:hover:bg-slate-700 dark:focus:bg-slate-700 ${props.myReaction === emoji ? 'bg-brand-100 dark:bg-brand-700/60' : ''}`}>
                {emoji}
              </button>
            ))}
          </div>
          <button type="button" role="menuitem" tabIndex={-1} className={item} onClick={() => setMode('picker')}>More reactions…</button>
          <button type="button" role="menuitem" tabIndex={-1} className={item} onClick={props.onReply}>Reply</button>
          {props.canEdit && <button type="button" role="menuitem" tabIndex={-1} className={item} onClick={props.onEdit}>Edit</button>}
          <button type="button" role="menuitem" tabIndex={-1} className={item} onClick={props.onDeleteForMe}>Delete for me</button>
          {props.canDeleteForEveryone && (
            <button type="button" role="menuitem" tabIndex={-1} className={`${item} text-red-700 dark:text-red-300`} onClick={() => setMode('confirm')}>Delete for everyone…</button>
          )}
        </div>
      )}
      {mode === 'picker' && <EmojiPicker myReaction={props.myReaction} onPick={props.onReact} />}
      {mode === 'confirm' && (
        <div role="group" aria-labelledby="delete-question" className="p-2 text-sm">
          <p id="delete-question">Delete this message for everyone? It is replaced by &ldquo;This message was deleted&rdquo; on every device.</p>
          <div className="mt-2 flex justify-end gap-2">
            <button type="button" onClick={() => setMode('menu')} className="rounded-full px-3 py-1 hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 dark:hover:bg-slate-700">Cancel</button>
            <button type="button" onClick={props.onDeleteForEveryone} className="rounded-full bg-red-700 px-3 py-1 font-medium text-white hover:bg-red-800 focus:outline-none focus-visible:ring-2 focus-visible:ring-red-500">Delete for everyone</button>
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
            <button type="button" onClick={() => onPick(emoji)} aria-label={myReaction === emoji ? `Remove your reaction ${emoji}` : `${emoji} ${name}`} title={name}
              className="rounded p-0.5 text-xl hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 dark:hover:bg-slate-700">
              {emoji}
            </button>
          </li>
        ))}
      </ul>
      {shown.length === 0 && <p className="p-2 text-center text-xs text-muted">No emoji match.</p>}
    </div>
  );
}
