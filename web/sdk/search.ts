// Search over this device's own history: a full-text index of the decrypted messages it holds,
// kept in its IndexedDB store next to them and never anywhere else. Nothing of a query or of the
// index leaves the device: this module is given the store and nothing that reaches the network.
//
// The index is MiniSearch's (an inverted index in a radix tree, with prefix and fuzzy matching),
// over each message's text only (see searchDocument in store.ts), in segments of a week each
// (by when a message was sent). Hits come newest first, so a search goes through the segments
// from the newest and stops as soon as it has enough: a word found in a tenth of all messages
// costs what the latest week's matches cost, not what a hundred thousand results would (about
// 2 µs each in MiniSearch). And a change rewrites only its segment when saved.
//
// The index follows the history as it changes, whichever part of the SDK changes it: the store
// journals, in the same transaction as the message, every change of what a message has to find
// (received, sent, edited, deleted for everyone or for me, expired), and tells the index when one
// is open. The segments that changed are saved a few seconds after changes pause (a snapshot,
// see SNAPSHOT_*), and opening the index loads the segments saved and replays the journal
// entries written since: a page closed between two snapshots loses nothing. A store without a
// snapshot (new, or upgraded from before search) builds the index from its messages the first
// time. bench/README.md (`search`) has the figures for each of these.
//
// A change that takes text away (deleted for everyone or for me, expired, edited) also deletes,
// as it is stored, the saved segment that may hold the old text (see Store.journal): a segment
// the snapshot lists but the store no longer has is rebuilt from that week's messages on load.

// MiniSearch is pinned to one exact version in web/package.json: the snapshot is its own
// serialization of the index, and an upgrade is to be made on purpose (a snapshot it cannot read
// is rebuilt from the messages, which costs seconds on a large history).
import MiniSearch, { type Options, type SearchOptions as MiniSearchOptions, type SearchResult } from 'minisearch';
import { searchSegmentKey as segmentKey, searchSegmentOf as segmentOf, type LocalMessage, type SearchDocument, type Store } from './store.ts';

/** A message that matches, newest-relevant first (see LocalSearch.search). */
export interface SearchHit {
  conversationId: string;
  /** The server's id of the message (its clientMsgId while it is being sent). */
  messageId: string;
  /** Its key in this device's store (what `react`, `edit`… take). */
  key: string;
  /** Its content id, what `messageByContent` and a reply name it by (absent on old messages). */
  contentId?: string;
  seq: number;
  createdAt: string;
  senderId: string;
  /** A stretch of its text around the first match, in parts: `match` marks the words that matched. */
  snippet: SnippetPart[];
}

export interface SnippetPart {
  text: string;
  match: boolean;
}

export interface SearchOptions {
  /** Only in this conversation. */
  conversationId?: string;
  /** At most this many hits (20 unless said). */
  limit?: number;
  /** Calls the search off (a newer query typed): it then rejects with an AbortError and does no
   * more of its work, such as waiting for the index to load and then searching it. */
  signal?: AbortSignal;
}

/** A segment as the snapshot's record `segment:<n>` holds it. */
interface SavedSegment {
  /** MiniSearch's JSON of it. */
  index: string;
  /** How many of its messages each conversation has. */
  conversations: Record<string, number>;
}

/** What the snapshot's `meta` record holds. */
interface Meta {
  /** How its terms were made (TERMS_VERSION): a snapshot made otherwise is rebuilt, not loaded. */
  terms: number;
  segments: number[];
  /** Documents in all, and when it was saved: for the record. */
  documents: number;
  at: string;
}

/** Bumped whenever tokenize or fold changes what terms a text gives: the index is then rebuilt. */
const TERMS_VERSION = 1;
/** The segments that changed are saved once no change came for this long, or this long after
 * the first unsaved one at the latest. */
const SNAPSHOT_IDLE_MS = 3_000;
const SNAPSHOT_MAX_WAIT_MS = 30_000;
/** Messages read from the store per batch when building the index from scratch. */
const BUILD_BATCH = 2000;
/** Terms longer than this are not words (a key, a long URL's path): left out of the index. */
const MAX_TERM_CHARS = 48;
/** What of a query is looked for: its first MAX_QUERY_TERMS distinct words, within its first
 * MAX_QUERY_CHARS characters. Each word is an AND-ed prefix (and maybe fuzzy) walk of the index of
 * every segment searched, on the page's main thread: a pasted page of text would be thousands of
 * them per week of history, freezing the page, for nothing, since a message search is a few words
 * and ten already match next to nothing. */
const MAX_QUERY_CHARS = 200;
const MAX_QUERY_TERMS = 10;
/** Typos are forgiven in this many of a query's first words only: a fuzzy walk costs the most,
 * and a long query is narrow enough without it. */
const MAX_FUZZY_TERMS = 4;
/** How much text a snippet shows around its first match. */
const SNIPPET_CHARS = 120;
const SNIPPET_LEAD_CHARS = 30;

// ---- terms ---------------------------------------------------------------------------------------

/** A word: a letter or digit, then letters, digits, combining marks and the joiners some scripts
 * write inside words (ZWNJ in Persian, ZWJ in Indic scripts). Anything else separates words. */
const WORD = /[\p{L}\p{N}][\p{L}\p{N}\p{M}\u200c\u200d]*/gu;
/** Scripts written without spaces between words: split further by the platform's word segmenter. */
const UNSPACED = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Thai}\p{Script=Lao}\p{Script=Khmer}\p{Script=Myanmar}]/u;
/** The diacritics folded away: the Combining Diacritical Marks block (é → e, ñ → n, ü → u), as
 * people type without them; marks of other scripts (Indic vowel signs) are letters there, and kept. */
const DIACRITICS = /[\u0300-\u036f]/g;

let segmenter: Intl.Segmenter | null | undefined;

/** The words of a text, where they are in it. */
export function words(text: string): { word: string; start: number; end: number }[] {
  const out: { word: string; start: number; end: number }[] = [];
  for (const m of text.matchAll(WORD)) {
    const start = m.index;
    if (UNSPACED.test(m[0])) {
      segmenter ??= typeof Intl.Segmenter === 'function' ? new Intl.Segmenter(undefined, { granularity: 'word' }) : null;
      if (segmenter) {
        for (const s of segmenter.segment(m[0])) {
          if (s.isWordLike) out.push({ word: s.segment, start: start + s.index, end: start + s.index + s.segment.length });
        }
        continue;
      }
    }
    out.push({ word: m[0], start, end: start + m[0].length });
  }
  return out;
}

/** A word as the index holds it: case and diacritics folded (and compatibility forms, such as
 * full-width Latin or ligatures, taken to their plain letters); null for what is not a word. */
export function fold(word: string): string | null {
  if (word.length > MAX_TERM_CHARS) return null;
  // Plain ASCII, most of what is typed, needs no normalization.
  // eslint-disable-next-line no-control-regex
  const folded = /^[\x00-\x7f]*$/.test(word)
    ? word.toLowerCase()
    : word.normalize('NFKD').replace(DIACRITICS, '').normalize('NFC').toLowerCase().replace(/ß/g, 'ss');
  return folded === '' ? null : folded;
}

const tokenize = (text: string) => words(text).map((w) => w.word);

const OPTIONS: Options<SearchDocument> = {
  fields: ['text'],
  // What filtering and ordering need, so that neither reads the store: the conversation and time.
  storeFields: ['c', 't'],
  tokenize,
  processTerm: fold,
};

/** As-you-type: every word of the query may be the start of a longer one, from two letters on. */
const prefix = (term: string) => term.length >= 2;
/** A typo is forgiven in a word of 4 letters or more, two in one of 8 or more; in a query's first
 * few words only. */
const fuzzy = (term: string, i: number) => (i >= MAX_FUZZY_TERMS ? false : term.length >= 8 ? 2 : term.length >= 4 ? 1 : false);

/** The terms of a query that are looked for (see MAX_QUERY_TERMS), as the index holds them. */
export function queryTerms(query: string): string[] {
  const terms = new Set<string>();
  // A word cut at the limit is looked for as the start of a longer one, as the last word typed is.
  for (const w of words(query.slice(0, MAX_QUERY_CHARS))) {
    const term = fold(w.word);
    if (term !== null) terms.add(term);
    if (terms.size === MAX_QUERY_TERMS) break;
  }
  return [...terms];
}

// ---- snippets ------------------------------------------------------------------------------------

/** The stretch of `text` around its first word whose folded form is one of `matched`, in parts. */
export function snippet(text: string, matched: Set<string>): SnippetPart[] {
  const hits = words(text).filter((w) => matched.has(fold(w.word) ?? ''));
  const first = hits[0];
  let start = 0;
  let end = text.length;
  if (text.length > SNIPPET_CHARS) {
    start = first ? Math.max(0, first.start - SNIPPET_LEAD_CHARS) : 0;
    end = Math.min(text.length, start + SNIPPET_CHARS);
    start = Math.max(0, Math.min(start, end - SNIPPET_CHARS));
    // Cut between words where one is near.
    if (start > 0) {
      const space = text.slice(start, first ? first.start : end).search(/\s/);
      if (space >= 0) start += space + 1;
    }
    if (end < text.length) {
      const space = text.slice(first ? first.end : start, end).lastIndexOf(' ');
      if (space >= 0) end = (first ? first.end : start) + space;
    }
  }
  const parts: SnippetPart[] = [];
  const push = (part: string, match: boolean) => {
    // Line breaks would break the one line a result shows.
    const flat = part.replace(/\s+/g, ' ');
    if (flat) parts.push({ text: flat, match });
  };
  if (start > 0) parts.push({ text: '…', match: false });
  let at = start;
  for (const hit of hits) {
    if (hit.start < start || hit.end > end) continue;
    push(text.slice(at, hit.start), false);
    push(text.slice(hit.start, hit.end), true);
    at = hit.end;
  }
  push(text.slice(at, end), false);
  if (end < text.length) parts.push({ text: '…', match: false });
  return parts;
}

// ---- the index -----------------------------------------------------------------------------------

type Change = [key: string, document: SearchDocument | null, generation: number];
type Segment = MiniSearch<SearchDocument>;

const newestFirst = (a: SearchResult, b: SearchResult) => (b.t as number) - (a.t as number) || b.score - a.score;

export class LocalSearch {
  private readonly store: Store;
  private readonly segments = new Map<number, Segment>();
  /** Per segment, how many of its messages each conversation has: a search in one conversation
   * skips the weeks it has none in. */
  private readonly conversations = new Map<number, Map<string, number>>();
  /** The segments' numbers, newest first (null: to sort again). */
  private order: number[] | null = null;
  /** The segments changed since the last snapshot. */
  private readonly dirty = new Set<number>();
  /** Changes told while the index is being loaded, applied in order once it is. */
  private waiting: Change[] | null = [];
  /** The journal entries the index holds but the last snapshot does not: key → generation. */
  private readonly unsaved = new Map<string, number>();
  private firstUnsavedAt = 0;
  private snapshotTimer: ReturnType<typeof setTimeout> | null = null;
  private saving: Promise<void> | null = null;
  /** Set when the index was built anew: its first snapshot replaces whatever the store held (an
   * unreadable snapshot's segments, which may hold words of messages deleted since). */
  private rebuilt = false;
  private closed = false;
  /** Resolves once the index holds everything the store does. */
  readonly ready: Promise<void>;

  private constructor(store: Store) {
    this.store = store;
    // Listening first: a change stored while the snapshot loads is told and applied after it.
    store.searchListener = (key, document, generation) => this.changed([key, document, generation]);
    this.ready = this.load();
  }

  /** The index of this store: loaded from its snapshot and journal, or built from its messages. */
  static open(store: Store): LocalSearch {
    return new LocalSearch(store);
  }

  /** How many messages the index holds. */
  get size(): number {
    let documents = 0;
    for (const segment of this.segments.values()) documents += segment.documentCount;
    return documents;
  }

  /** How many segments it has. */
  get segmentCount(): number {
    return this.segments.size;
  }

  private async load(): Promise<void> {
    const journal = await this.store.searchJournal();
    const loaded = await this.loadSnapshot();
    if (loaded) {
      const documents = await this.store.searchDocuments([...journal.keys()]);
      for (const [key, generation] of journal) this.apply([key, documents.get(key) ?? null, generation]);
    } else {
      // No snapshot (or one that cannot be read): every message, a batch at a time; what the
      // journal holds is in the messages read.
      let after: string | undefined;
      do {
        const batch = await this.store.searchDocumentsAfter(after, BUILD_BATCH);
        for (const document of batch.documents) this.add(document);
        after = batch.lastKey;
        if (this.closed) return;
      } while (after !== undefined);
      for (const n of this.segments.keys()) this.dirty.add(n);
      for (const [key, generation] of journal) this.unsaved.set(key, generation);
      this.rebuilt = true;
    }
    const waiting = this.waiting ?? [];
    this.waiting = null;
    for (const change of waiting) this.apply(change);
    // A build is saved at once: it is what a snapshot spares the next load.
    if (this.dirty.size > 0 || this.unsaved.size > 0 || this.rebuilt) this.scheduleSnapshot(!loaded);
  }

  /** Loads the saved segments, and rebuilds from its week's messages each one the store dropped
   * (a message's text went while it was saved); false if there is no snapshot, or one this version
   * cannot read (made with other terms, or by another version of MiniSearch). */
  private async loadSnapshot(): Promise<boolean> {
    const meta = await this.store.searchRecord<Meta>('meta');
    if (meta?.terms !== TERMS_VERSION) return false;
    try {
      for (const n of meta.segments) {
        const saved = await this.store.searchRecord<SavedSegment>(segmentKey(n));
        if (saved === undefined) {
          for (const document of await this.store.searchDocumentsInSegment(n)) this.add(document);
          // Saved again (or, left empty, taken out of the list) at the next snapshot.
          this.dirty.add(n);
          continue;
        }
        if (typeof saved?.index !== 'string') throw new Error(`segment ${n} cannot be read`);
        this.segments.set(n, await MiniSearch.loadJSONAsync(saved.index, OPTIONS));
        this.conversations.set(n, new Map(Object.entries(saved.conversations)));
      }
      this.order = null;
      return true;
    } catch {
      this.segments.clear();
      this.conversations.clear();
      this.dirty.clear();
      return false;
    }
  }

  private add(document: SearchDocument): void {
    const n = segmentOf(document.t);
    let segment = this.segments.get(n);
    if (!segment) {
      segment = new MiniSearch(OPTIONS);
      this.segments.set(n, segment);
      this.conversations.set(n, new Map());
      this.order = null;
    }
    segment.add(document);
    const counts = this.conversations.get(n)!;
    counts.set(document.c, (counts.get(document.c) ?? 0) + 1);
    this.dirty.add(n);
  }

  private discard(n: number, key: string): void {
    const segment = this.segments.get(n)!;
    const c = segment.getStoredFields(key)?.c as string;
    segment.discard(key);
    const counts = this.conversations.get(n)!;
    const left = (counts.get(c) ?? 1) - 1;
    if (left > 0) counts.set(c, left);
    else counts.delete(c);
    this.dirty.add(n);
  }

  private changed(change: Change): void {
    if (this.closed) return;
    if (this.waiting) {
      this.waiting.push(change);
      return;
    }
    this.apply(change);
    this.scheduleSnapshot();
  }

  private apply([key, document, generation]: Change): void {
    // Where it is now: where its time puts it, unless it moved (it never should; a deletion says
    // no time, and is looked for everywhere).
    const likely = document && segmentOf(document.t);
    const at = likely !== null && this.segments.get(likely)?.has(key) ? likely : [...this.segments].find(([, segment]) => segment.has(key))?.[0];
    if (at !== undefined) this.discard(at, key);
    if (document) this.add(document);
    if (this.unsaved.size === 0) this.firstUnsavedAt = Date.now();
    this.unsaved.set(key, generation);
  }

  /** Saves the segments that changed once changes pause (`now`: at once). */
  private scheduleSnapshot(now = false): void {
    if (this.closed || this.saving) return;
    if (this.snapshotTimer) clearTimeout(this.snapshotTimer);
    const wait = now ? 0 : Math.max(0, Math.min(SNAPSHOT_IDLE_MS, this.firstUnsavedAt + SNAPSHOT_MAX_WAIT_MS - Date.now()));
    this.snapshotTimer = setTimeout(() => {
      this.snapshotTimer = null;
      void this.snapshot().catch(() => {});
    }, wait);
    // In Node (tests, scripts) a pending save must not keep the process alive.
    (this.snapshotTimer as { unref?: () => void }).unref?.();
  }

  /**
   * Writes the segments changed since the last snapshot, and drops the journal entries they hold.
   * A segment is written only once MiniSearch has vacuumed it: a message discarded from it (edited,
   * deleted) keeps its terms in the index until then, and what a deletion for everyone took away
   * must not be kept in the store through the index.
   */
  async snapshot(): Promise<void> {
    await this.ready;
    while (this.saving) await this.saving;
    if (this.closed || (this.dirty.size === 0 && this.unsaved.size === 0 && !this.rebuilt)) return;
    let saved = false;
    this.saving = (async () => {
      try {
        // Changes may come while a segment is vacuumed (it yields): a few rounds, then, if some
        // segment still holds a discarded message's terms, the snapshot waits for a calmer moment.
        for (let round = 0; round < 3; round += 1) {
          const soiled = [...this.dirty].map((n) => this.segments.get(n)).filter((segment) => !!segment && segment.dirtCount > 0);
          if (soiled.length === 0) break;
          for (const segment of soiled) await segment!.vacuum({ batchSize: 10_000, batchWait: 0 });
        }
        if (this.closed || [...this.dirty].some((n) => (this.segments.get(n)?.dirtCount ?? 0) > 0)) return;
        // From here to the write, nothing yields: the records and `holds` are of one moment.
        const holds = new Map(this.unsaved);
        const dirty = [...this.dirty];
        this.dirty.clear();
        const records = new Map<string, unknown>();
        for (const n of dirty) {
          const segment = this.segments.get(n);
          if (segment && segment.documentCount > 0) {
            records.set(segmentKey(n), { index: JSON.stringify(segment), conversations: Object.fromEntries(this.conversations.get(n)!) } satisfies SavedSegment);
          } else {
            records.set(segmentKey(n), null);
            this.segments.delete(n);
            this.conversations.delete(n);
            this.order = null;
          }
        }
        records.set('meta', { terms: TERMS_VERSION, segments: [...this.segments.keys()], documents: this.size, at: new Date().toISOString() } satisfies Meta);
        const replace = this.rebuilt;
        try {
          await this.store.saveSearchSnapshot(records, holds, { replace });
        } catch (e) {
          for (const n of dirty) this.dirty.add(n);
          throw e;
        }
        if (replace) this.rebuilt = false;
        // What changed while this was written has a newer generation, and stays to save.
        for (const [key, generation] of holds) if (this.unsaved.get(key) === generation) this.unsaved.delete(key);
        if (this.unsaved.size > 0) this.firstUnsavedAt = Date.now();
        saved = true;
      } finally {
        this.saving = null;
      }
    })();
    await this.saving;
    if (!saved || this.dirty.size > 0 || this.unsaved.size > 0) this.scheduleSnapshot();
  }

  /** Stops following the store (signed out, or the store replaced); the journal keeps what comes. */
  close(): void {
    this.closed = true;
    if (this.snapshotTimer) clearTimeout(this.snapshotTimer);
    this.snapshotTimer = null;
    this.store.searchListener = null;
  }

  /**
   * The messages whose text matches every word of `query`: as typed (case and accents aside), as
   * the start of a longer word, then, when those are fewer than `limit`, with a typo or two
   * forgiven. Those that match without a typo come first, then the others, each newest first.
   */
  async search(query: string, { conversationId, limit = 20, signal }: SearchOptions = {}): Promise<SearchHit[]> {
    signal?.throwIfAborted();
    await this.ready;
    signal?.throwIfAborted();
    const terms = queryTerms(query);
    if (limit <= 0 || terms.length === 0) return [];
    // The terms as made above, not the query made into terms again by MiniSearch.
    const base: MiniSearchOptions = { tokenize: () => terms, processTerm: (term: string) => term, prefix, combineWith: 'AND', filter: conversationId === undefined ? undefined : (r: SearchResult) => r.c === conversationId };
    const text = terms.join(' ');
    const exact = this.newest(text, base, conversationId, limit, new Set());
    let ranked = exact;
    if (exact.length < limit) {
      const close = this.newest(text, { ...base, fuzzy }, conversationId, limit - exact.length, new Set(exact.map((r) => r.id)));
      ranked = exact.concat(close);
    }
    // The text and place of each hit as the store holds them now (the snippet needs the text,
    // which the index does not keep); one gone meanwhile (another tab) is left out.
    const messages = await this.store.messages(ranked.map((r) => r.id as string));
    signal?.throwIfAborted();
    const hits: SearchHit[] = [];
    ranked.forEach((result, i) => {
      const m: LocalMessage | undefined = messages[i];
      if (!m || m.deleted || m.change) return;
      hits.push({
        conversationId: m.conversationId, messageId: m.id, key: m.key, seq: m.seq, createdAt: m.createdAt, senderId: m.senderId,
        ...(m.contentId ? { contentId: m.contentId } : {}),
        snippet: snippet(m.text, new Set(result.terms)),
      });
    });
    return hits;
  }

  /**
   * The newest `wanted` results of a search, going through the segments from the newest: each
   * holds only messages older than the one before, so once enough are found, no older segment
   * can have a newer one. In one conversation, only the segments it has messages in.
   */
  private newest(query: string, options: Parameters<Segment['search']>[1], conversationId: string | undefined, wanted: number, skip: Set<unknown>): SearchResult[] {
    this.order ??= [...this.segments.keys()].sort((a, b) => b - a);
    const found: SearchResult[] = [];
    for (const n of this.order) {
      if (conversationId !== undefined && !this.conversations.get(n)?.has(conversationId)) continue;
      for (const result of this.segments.get(n)!.search(query, options)) if (!skip.has(result.id)) found.push(result);
      if (found.length >= wanted) break;
    }
    return found.sort(newestFirst).slice(0, wanted);
  }
}
