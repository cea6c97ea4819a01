import { useEffect, useRef, useState } from 'react';
import type { ChatClient, Conversation, SearchHit } from '../../sdk/client.ts';
import { titleOf, whenLabel } from './format.ts';
import { moveFocusInList } from './listFocus.ts';

/** How long typing pauses before the search runs. */
const TYPING_PAUSE_MS = 150;
const LIMIT = 50;

/**
 * Search over the messages on this device (see the SDK's search.ts): neither the words typed nor
 * anything of the index goes to the server, unlike "Find people" above, which asks it. While a
 * query is typed its results take the conversation list's place; picking one opens its
 * conversation at that message.
 */
export function MessageSearch({ client, conversations, me, onQuery, onPick }: {
  client: ChatClient; conversations: Conversation[]; me: string;
  /** Whether there is a query (results are shown instead of the conversation list). */
  onQuery: (active: boolean) => void;
  onPick: (hit: SearchHit) => void;
}) {
  const [q, setQ] = useState('');
  const [hits, setHits] = useState<SearchHit[] | null>(null);
  const [failed, setFailed] = useState(false);
  const results = useRef<HTMLUListElement>(null);
  const query = q.trim();
  useEffect(() => onQuery(query !== ''), [query, onQuery]);
  useEffect(() => {
    if (!query) return setHits(null);
    // Each keystroke supersedes the search before it: that one is called off (the SDK then skips
    // what it had left to do, such as searching once the index has loaded), and whatever it still
    // answers is dropped, so an older query's results never replace a newer one's.
    const superseded = new AbortController();
    const timer = setTimeout(() => {
      client.search(query, { limit: LIMIT, signal: superseded.signal }).then((found) => {
        if (superseded.signal.aborted) return;
        setFailed(false);
        setHits(found);
      }, () => { if (!superseded.signal.aborted) setFailed(true); });
    }, TYPING_PAUSE_MS);
    return () => { superseded.abort(); clearTimeout(timer); };
  }, [client, query]);
  // What changes while results are shown (a message edited or deleted) shows at the next keystroke.

  const byId = new Map(conversations.map((c) => [c.id, c]));
  /** Who said it, as the conversation list's previews do: "You", or in a group the member's name
   * (in a 1:1 the title says who). */
  const senderOf = (hit: SearchHit, c: Conversation | undefined) => (hit.senderId === me ? 'You'
    : c?.kind === 'direct' ? null : c?.members.find((m) => m.userId === hit.senderId)?.displayName ?? 'Former member');
  const pick = (hit: SearchHit) => {
    setQ('');
    onPick(hit);
  };

  return (
    <>
      <div className="border-b border-slate-200 p-3 dark:border-slate-800">
        <label htmlFor="message-search" className="sr-only">Search messages on this device</label>
        <input id="message-search" type="search" value={q} onChange={(e) => setQ(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'ArrowDown') {
              e.preventDefault();
              results.current?.querySelector<HTMLButtonElement>(':scope > li > button')?.focus();
            } else if (e.key === 'Enter' && hits?.[0]) {
              e.preventDefault();
              pick(hits[0]);
            }
          }}
          placeholder="Search messages (on this device)"
          // What is typed here stays on this device: no browser spellcheck (an "enhanced" one sends
          // the text to a server) and no form history keeping past queries.
          spellCheck={false} autoComplete="off"
          className="w-full rounded-full border border-slate-300 bg-slate-50 px-4 py-2 text-sm outline-none focus:border-brand-500 focus:ring-2 focus:ring-brand-500/40 dark:border-slate-700 dark:bg-slate-900" />
        {/* Always on the page, its text changing: a live region put in with its text is not
            reliably read out. */}
        <p role="status" className="sr-only">
          {query === '' ? '' : failed ? 'Search failed.' : hits ? `${hits.length === LIMIT ? `${LIMIT} or more` : hits.length} messages found.` : ''}
        </p>
      </div>
      {query !== '' && (
        <ul ref={results} onKeyDown={moveFocusInList} aria-label="Messages found" data-testid="message-results"
          className="min-h-0 flex-1 overflow-y-auto">
          {failed && <li className="px-4 py-3 text-sm text-red-600 dark:text-red-400">Search failed. Try again.</li>}
          {hits?.length === 0 && <li className="px-4 py-3 text-sm text-muted">No message on this device matches.</li>}
          {hits?.map((hit, i) => {
            const c = byId.get(hit.conversationId);
            return (
              <li key={hit.key}>
                <button type="button" onClick={() => pick(hit)} tabIndex={i === 0 ? 0 : -1} data-testid="message-result"
                  className="block w-full px-4 py-2.5 text-left hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-inset focus-visible:ring-brand-500 dark:hover:bg-slate-900">
                  <span className="flex items-baseline justify-between gap-2">
                    <span className="truncate text-sm font-medium">{c ? titleOf(c, me) : 'Conversation'}</span>
                    <span className="shrink-0 text-xs text-muted">{whenLabel(hit.createdAt)}</span>
                  </span>
                  <span className="line-clamp-2 text-sm text-slate-700 dark:text-slate-300">
                    {senderOf(hit, c) && <span className="text-muted">{senderOf(hit, c)}: </span>}
                    {hit.snippet.map((part, j) => part.match
                      ? <mark key={j} className="rounded-sm bg-amber-200 px-0.5 text-slate-900 dark:bg-amber-400/40 dark:text-slate-50">{part.text}</mark>
                      : <span key={j}>{part.text}</span>)}
                  </span>
                </button>
              </li>
            );
          })}
        </ul>
      )}
    </>
  );
}
