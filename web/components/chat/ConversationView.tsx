import { useEffect, useRef, useState } from 'react';
import { lazyPanel } from './LoadBoundary.tsx';
import type { ChatClient, Conversation } from '../../sdk/client.ts';
import { isMuted } from '../../sdk/notifications.ts';
import type { NotificationSettings } from '../../sdk/wire/index.ts';
import { Avatar } from './Avatar.tsx';
import { Composer, type Composing } from './Composer.tsx';
import { lastSeenLabel, timerLabel, titleOf } from './format.ts';
import { MessageList, messageElement, timerSentence, type MessageActions } from './MessageList.tsx';
import { useConversationMessages } from './useConversationMessages.ts';
import type { Presence } from './useLive.ts';

// The panels load when first opened: the QR code and the device lists stay out of the first load.
// Loaded when first opened, each in a boundary whose Retry fetches the code again (offline).
const SafetyNumber = lazyPanel(() => import('./SafetyNumber.tsx').then((m) => m.SafetyNumber));
const Members = lazyPanel(() => import('./Members.tsx').then((m) => m.Members));
const DisappearingPanel = lazyPanel(() => import('./DisappearingPanel.tsx').then((m) => m.DisappearingPanel));
const MutePanel = lazyPanel(() => import('./MutePanel.tsx').then((m) => m.MutePanel));

/** How many frames a message found (a search hit, a quote) may take to render before it is
 * scrolled to: about two seconds. */
const PLACE_FRAMES = 120;

/** The open conversation: its header and panels, the messages, and the composer. */
export function ConversationView({ client, conversation, me, presence, typingUsers, onBack, onChanged, onRead, target }: {
  client: ChatClient; conversation: Conversation; me: string; presence?: Presence; typingUsers: string[];
  onBack: () => void; onChanged: () => void; onRead: (conversationId: string) => void;
  /** A message to show and focus once open (a search result picked). */
  target?: { key: string; seq: number } | null;
}) {
  const listRef = useRef<HTMLOListElement>(null);
  const stickToBottom = useRef(true);
  const { messages, notices, ready, problems, arrived, loadOlder, reveal } = useConversationMessages({ client, conversation, me, listRef, onChanged, onRead });
  const [panel, setPanel] = useState<'none' | 'safety' | 'members' | 'timer' | 'mute'>('none');
  // Whether it is muted (the server's, for all this user's devices); unknown offline.
  const [notifications, setNotifications] = useState<NotificationSettings | null>(null);
  useEffect(() => {
    setNotifications(null);
    if (conversation.left) return;
    let current = true;
    client.notifications.settings(conversation.id).then((s) => { if (current) setNotifications(s); }, () => {});
    return () => { current = false; };
  }, [client, conversation.id, conversation.left]);
  const muted = !!notifications && isMuted(notifications);
  const closeMute = () => {
    // Back to the button that opened the panel, if focus was in it: a save that ends after the
    // reader went on elsewhere (the composer) leaves focus where they are.
    const active = document.activeElement;
    const inPanel = !active || active === document.body || active.closest('[aria-labelledby="mute-title"]');
    setPanel('none');
    if (inPanel) document.querySelector<HTMLElement>('[data-testid="mute-button"]')?.focus();
  };
  /** A reply or an edit under way in the composer. */
  const [composing, setComposing] = useState<Composing | null>(null);
  useEffect(() => setComposing(null), [conversation.id]);
  const timer = useTimer(client, conversation.id, messages);
  /** Files dropped anywhere on the conversation go to the composer. */
  const [dropped, setDropped] = useState<File[]>([]);
  const [dragging, setDragging] = useState(false);
  useEffect(() => {
    // A file dropped anywhere else on the page must not make the browser open it and leave the app.
    const keep = (e: DragEvent) => { if (e.dataTransfer?.types.includes('Files')) e.preventDefault(); };
    document.addEventListener('dragover', keep);
    document.addEventListener('drop', keep);
    return () => { document.removeEventListener('dragover', keep); document.removeEventListener('drop', keep); };
  }, []);

  const left = !!conversation.left;
  // Once no longer a member, the panels that act on the group close, and focus goes to the line
  // that says so (it replaces the composer and the Members panel it may have been in).
  const heading = useRef<HTMLHeadingElement>(null);
  const wasLeft = useRef(left);
  useEffect(() => {
    if (left && !wasLeft.current) {
      setPanel('none');
      // The line that says so is a status, read out as it appears; focus goes to the title, not
      // to that line, which would have it read twice.
      heading.current?.focus();
    }
    wasLeft.current = left;
  }, [left]);
  useEffect(() => {
    // On a narrow screen the list that had focus is gone once a conversation opens (and the
    // composer does not take focus there, see Composer): the conversation's title takes it.
    if (!window.matchMedia('(min-width: 768px)').matches) heading.current?.focus();
  }, [conversation.id]);
  // Said as it happens, besides what others write: one's own message the server refused, and a
  // change of someone's devices (which asks to compare safety numbers again).
  const [said, setSaid] = useState('');
  useEffect(() => {
    const offs = [
      client.on('status', (m) => {
        if (m.conversationId === conversation.id && m.status === 'failed' && !m.change) setSaid(`Not sent: ${m.text}. Retry is on the message.`);
      }),
      client.on('notice', (n) => {
        if (n.conversationId === conversation.id) setSaid(`${n.displayName}'s devices changed. Compare safety numbers again.`);
      }),
    ];
    return () => offs.forEach((off) => off());
  }, [client, conversation.id]);
  const title = titleOf(conversation, me);
  const names = Object.fromEntries(conversation.members.map((m) => [m.userId, m.displayName]));
  const myRole = conversation.members.find((m) => m.userId === me)?.role;
  const manages = myRole === 'owner' || myRole === 'admin';
  const actions: MessageActions = {
    manages,
    say: setSaid,
    reply: (m) => { setComposing({ mode: 'reply', message: m, sender: m.senderId === me ? 'You' : (names[m.senderId] ?? title) }); document.getElementById('composer')?.focus(); },
    edit: (m) => { setComposing({ mode: 'edit', message: m, sender: 'You' }); document.getElementById('composer')?.focus(); },
    jumpTo: (contentId) => show(contentId),
  };
  /** Shows and focuses a message (by content id, or key and seq), loading older pages as needed. */
  function show(which: string | { key: string; seq: number }) {
    // Reading there now, not at the newest: what arrives must not scroll it away.
    stickToBottom.current = false;
    const jump = (jumps.current += 1);
    const focusedBefore = document.activeElement;
    /** A newer jump, or typing begun meanwhile: this one no longer takes the focus. */
    const superseded = () => jump !== jumps.current
      || (document.activeElement !== focusedBefore && !!document.activeElement?.matches('input, textarea'));
    void reveal(which).then((key) => {
      if (superseded()) return;
      if (!key) return setSaid('That message is not on this device.');
      // Once the page it is on has rendered: a frame or two, more on a busy device (a second or
      // so at most; after that, it is not coming).
      let frames = 0;
      const place = () => {
        if (superseded()) return;
        const el = messageElement(key);
        if (!el) {
          if ((frames += 1) < PLACE_FRAMES) requestAnimationFrame(place);
          else setSaid('That message could not be shown.');
          return;
        }
        el.scrollIntoView({ block: 'center' });
        // Again, now: a scroll event from before (the older pages going in above, the list
        // still at its bottom) may have set it, and a render before this scroll's own event
        // would take the list back down, away from the message.
        stickToBottom.current = false;
        el.focus();
        // Shown where it is, for a pointer too (a click leaves no focus ring).
        el.dataset.flash = 'true';
        setTimeout(() => { delete el.dataset.flash; }, 1500);
      };
      requestAnimationFrame(place);
    });
  }
  /** Counts jumps to a message (see show): only the latest places and focuses its message. */
  const jumps = useRef(0);
  const shown = useRef<{ key: string; seq: number } | null>(null);
  useEffect(() => {
    if (!target || shown.current === target) return;
    shown.current = target;
    show(target);
  });
  const subtitle = typingUsers.length
    ? `${conversation.kind === 'group' ? typingUsers.map((u) => names[u] ?? 'Someone').join(', ') + ' ' : ''}typing…`
    : left ? (conversation.leftBySelf ? 'you left' : 'no longer a member')
    : conversation.kind === 'group' ? `${conversation.members.length} members` : presence?.online ? 'online' : lastSeenLabel(presence?.lastSeen ?? null);

  return (
    // `contents`: no box of its own, only the drop of files anywhere on the conversation.
    <div className="contents"
      onDragOver={(e) => { if (!left && e.dataTransfer.types.includes('Files')) { e.preventDefault(); setDragging(true); } }}
      onDragLeave={(e) => { if (!e.currentTarget.contains(e.relatedTarget as Node)) setDragging(false); }}
      onDrop={(e) => {
        if (left || e.dataTransfer.files.length === 0) return;
        e.preventDefault();
        setDragging(false);
        setDropped([...e.dataTransfer.files]);
      }}>
      {dragging && <p role="status" className="bg-brand-50 px-4 py-1.5 text-center text-sm text-brand-700 dark:bg-brand-700/30 dark:text-brand-100">Drop the files to attach them.</p>}
      {/* Wraps on a narrow phone, so the buttons never squeeze the title out. */}
      <header className="flex flex-wrap items-center gap-x-3 gap-y-1 border-b border-slate-200 px-3 py-2.5 dark:border-slate-800">
        <button type="button" onClick={onBack} aria-label="Back to conversations"
          className="rounded-full px-2 py-1 text-lg hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 md:hidden dark:hover:bg-slate-800">←</button>
        <Avatar name={title} online={presence?.online} />
        <div className="min-w-[8rem] flex-1">
          <h2 ref={heading} tabIndex={-1} className="truncate font-semibold focus:outline-none">{title}</h2>
          <p className="truncate text-xs text-muted" data-testid="conversation-subtitle">{subtitle}</p>
        </div>
        {conversation.kind === 'group' && !left && (
          <button type="button" onClick={() => setPanel(panel === 'members' ? 'none' : 'members')} className="rounded-full px-3 py-1.5 text-sm hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 dark:hover:bg-slate-800">Members</button>
        )}
        {!left && (
          <button type="button" onClick={() => setPanel(panel === 'timer' ? 'none' : 'timer')} aria-expanded={panel === 'timer'} data-testid="timer-button"
            className="rounded-full px-3 py-1.5 text-sm hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 dark:hover:bg-slate-800">
            <span aria-hidden="true">⏱ </span>{timer.seconds ? `Disappearing: ${timerLabel(timer.seconds)}` : 'Disappearing: off'}
          </button>
        )}
        {!left && (
          <button type="button" onClick={() => setPanel(panel === 'mute' ? 'none' : 'mute')} aria-expanded={panel === 'mute'} data-testid="mute-button"
            className="rounded-full px-3 py-1.5 text-sm hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 dark:hover:bg-slate-800">
            {/* On a phone, the bell alone: the header stays two rows (its name stays for screen readers). */}
            <span aria-hidden="true">{muted ? '🔕' : '🔔'}</span><span className="max-sm:sr-only"> {muted ? 'Muted' : 'Mute'}</span>
          </button>
        )}
        {!left && <button type="button" onClick={() => setPanel(panel === 'safety' ? 'none' : 'safety')} className="rounded-full px-3 py-1.5 text-sm hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 dark:hover:bg-slate-800">Safety number</button>}
      </header>
      {panel === 'safety' && !left && <SafetyNumber client={client} conversation={conversation} me={me} ready={ready} />}
      {panel === 'members' && !left && <Members client={client} conversation={conversation} me={me} onChanged={onChanged} />}
      {panel === 'timer' && !left && (
        <DisappearingPanel client={client} conversationId={conversation.id} current={timer.seconds}
          mayChange={conversation.kind === 'direct' || manages} onChanged={(seconds, { hadFocus }) => {
            timer.set(seconds);
            setPanel('none');
            setSaid(seconds ? `Messages now disappear after ${timerLabel(seconds)}.` : 'Disappearing messages are off.');
            // Back to the button that opened the panel, which is gone with it, if focus was in the
            // panel. Not if the reader went on elsewhere while it saved: the Enter they type next
            // in the composer would press this button (and open the panel again) instead of
            // sending their message.
            if (hadFocus) document.querySelector<HTMLElement>('[data-testid="timer-button"]')?.focus();
          }} />
      )}
      {panel === 'mute' && !left && (
        <MutePanel client={client} conversationId={conversation.id} current={notifications} onClose={closeMute} onChanged={(settings) => {
          setNotifications(settings);
          closeMute();
          setSaid(settings.mutedUntil === 'always' ? 'Muted until you unmute it. No notifications from this conversation.'
            : isMuted(settings) ? `Muted until ${new Date(settings.mutedUntil!).toLocaleString()}. No notifications from this conversation.` : 'Unmuted.');
        }} />
      )}
      {problems > 0 && (
        <p role="alert" className="bg-red-50 px-4 py-1.5 text-center text-xs text-red-700 dark:bg-red-500/10 dark:text-red-300">
          {problems === 1 ? '1 message' : `${problems} messages`} could not be verified and {problems === 1 ? 'was' : 'were'} not shown.
        </p>
      )}
      {/* Only what arrives while the conversation is open is read out, not the history on screen. */}
      <div aria-live="polite" className="sr-only">
        {arrived && (arrived.change === 'timer'
          ? timerSentence(arrived, conversation.kind === 'group' ? (names[arrived.senderId] ?? 'Someone') : title)
          : `${conversation.kind === 'group' ? (names[arrived.senderId] ?? 'Someone') : title}: ${arrived.text}`)}
      </div>
      <div aria-live="polite" className="sr-only">{said}</div>
      <MessageList client={client} me={me} title={title} isGroup={conversation.kind === 'group'} names={names}
        messages={messages} notices={notices} ready={ready} left={left} typingCount={typingUsers.length}
        listRef={listRef} stickToBottom={stickToBottom} loadOlder={loadOlder} actions={actions} />
      {left ? (
        <p role="status" className="border-t border-slate-200 p-4 text-center text-sm text-muted dark:border-slate-800">
          {conversation.leftBySelf ? 'You left this group.' : 'You are no longer a member of this group.'} What you read here before stays on this device.
        </p>
      ) : (
        <Composer client={client} conversationId={conversation.id} ready={ready} onBack={onBack}
          composing={composing} onDoneComposing={() => setComposing(null)} dropped={dropped}
          onSending={() => { stickToBottom.current = true; }} />
      )}
    </div>
  );
}

/** The conversation's disappearing-messages timer, read again when a timer line arrives. */
function useTimer(client: ChatClient, conversationId: string, messages: { change?: string }[]) {
  const [seconds, set] = useState<number | null>(null);
  const timerLines = messages.filter((m) => m.change === 'timer').length;
  useEffect(() => {
    let cancelled = false;
    void client.disappearingTimer(conversationId).then((s) => { if (!cancelled) set(s); }).catch(() => {});
    return () => { cancelled = true; };
  }, [client, conversationId, timerLines]);
  return { seconds, set };
}
