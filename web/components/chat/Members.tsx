import { useEffect, useRef, useState, type KeyboardEvent } from 'react';
import useSWR from 'swr';
import type { ChatClient, Conversation } from '../../sdk/client.ts';

/**
 * A group's members with their roles, each one's devices as the server lists them (with a short
 * fingerprint of each device's key) and whether this user verified them; owners and admins can
 * remove members and add people from the directory.
 */
export function Members({ client, conversation, me, onChanged }: { client: ChatClient; conversation: Conversation; me: string; onChanged: () => void }) {
  const memberDevices = useMemberDevices(client, conversation, me);
  const myRole = conversation.members.find((m) => m.userId === me)?.role;
  const canManage = myRole === 'owner' || myRole === 'admin';
  const [q, setQ] = useState('');
  const [error, setError] = useState<string | null>(null);
  // The member whose removal is being confirmed, and whether it is under way.
  const [confirming, setConfirming] = useState<string | null>(null);
  const [removing, setRemoving] = useState(false);
  // Removed here: gone from the list at once, not when the group is next read.
  const [gone, setGone] = useState<ReadonlySet<string>>(new Set());
  const section = useRef<HTMLElement>(null);
  const addInput = useRef<HTMLInputElement>(null);
  const shown = conversation.members.filter((m) => !gone.has(m.userId));
  const { data } = useSWR(canManage && q.trim() ? ['directory', q.trim()] : null, () => client.api.users({ q: q.trim(), limit: 10 }));
  const run = async (work: Promise<void>) => {
    setError(null);
    try {
      await work;
      onChanged();
      return true;
    } catch (e) {
      setError((e as Error).message);
      return false;
    }
  };
  // Where focus goes once the list is drawn again: back to the Remove button a question came
  // from, or, with a member gone, to the next member's (or the one before), else the panel.
  const [focusAfter, setFocusAfter] = useState<{ userId: string; index: number | null } | null>(null);
  useEffect(() => {
    if (!focusAfter) return;
    const buttons = [...section.current?.querySelectorAll<HTMLElement>('[data-remove-member]') ?? []];
    const { userId, index } = focusAfter;
    const target = index === null ? buttons.find((b) => b.dataset.removeMember === userId) : buttons[index] ?? buttons[index - 1];
    (target ?? section.current)?.focus();
    setFocusAfter(null);
  }, [focusAfter]);
  const cancelRemove = (userId: string) => {
    setConfirming(null);
    setFocusAfter({ userId, index: null });
  };
  const remove = async (userId: string) => {
    setRemoving(true);
    const removable = shown.filter((m) => m.userId !== me && m.role !== 'owner').map((m) => m.userId);
    const index = removable.indexOf(userId);
    const ok = await run(client.removeMembers(conversation.id, [userId]));
    setRemoving(false);
    if (!ok) return;
    setConfirming(null);
    setGone((was) => new Set(was).add(userId));
    setFocusAfter({ userId, index });
  };
  const escapeCancels = (userId: string) => (e: KeyboardEvent) => {
    if (e.key !== 'Escape') return;
    // Escape takes the question back (not while it is being answered), and goes no further up.
    e.stopPropagation();
    if (!removing) cancelRemove(userId);
  };
  return (
    <section ref={section} tabIndex={-1} aria-label="Members" className="max-h-[50dvh] overflow-y-auto border-b border-slate-200 bg-white p-4 focus:outline-none dark:border-slate-800 dark:bg-slate-900">
      <ul className="space-y-1">
        {shown.map((m) => (
          <li key={m.userId} className="text-sm">
            <div className="flex items-center justify-between gap-2">
              <span>
                {m.displayName}{m.userId === me ? ' (you)' : ''} <span className="text-xs text-muted">{m.role}</span>
                {m.userId !== me && memberDevices && (
                  <span data-testid="member-verified" className="ml-2 text-xs">{memberDevices.verified[m.userId] ? '✓ Verified' : 'Not verified'}</span>
                )}
              </span>
              {canManage && m.userId !== me && m.role !== 'owner' && confirming !== m.userId && (
                <button type="button" data-remove-member={m.userId} aria-label={`Remove ${m.displayName}`} onClick={() => { setError(null); setConfirming(m.userId); }}
                  className="rounded-full px-2 py-1 text-xs text-red-700 hover:bg-red-50 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 dark:text-red-400 dark:hover:bg-red-500/10">Remove</button>
              )}
            </div>
            {confirming === m.userId && (
              <Confirm id="remove-member-question" question={`Remove ${m.displayName} from this group?`} action="Remove" busyAction="Removing…"
                busy={removing} onKeyDown={escapeCancels(m.userId)} onConfirm={() => void remove(m.userId)} onCancel={() => cancelRemove(m.userId)} />
            )}
            {memberDevices?.devices.get(m.userId) && (
              <ul aria-label={`${m.displayName}'s devices`} className="mb-1 ml-3 text-xs text-slate-600 dark:text-slate-300">
                {memberDevices.devices.get(m.userId)!.map((d) => (
                  <li key={d.id}>{d.label} <span className="sr-only">key fingerprint</span> <span className="font-mono">{d.fingerprint}</span></li>
                ))}
              </ul>
            )}
          </li>
        ))}
      </ul>
      {canManage && (
        <div className="mt-3">
          <label htmlFor="add-member" className="text-xs font-medium">Add someone</label>
          <input id="add-member" ref={addInput} type="search" value={q} onChange={(e) => setQ(e.target.value)} placeholder="Name or phone"
            className="mt-1 w-full rounded-full border border-slate-300 bg-slate-50 px-3 py-1.5 text-sm dark:border-slate-700 dark:bg-slate-950" />
          <ul className="mt-1">
            {data?.items.filter((u) => !conversation.members.some((m) => m.userId === u.id)).map((u) => (
              <li key={u.id}><button type="button" onClick={() => { setQ(''); addInput.current?.focus(); setGone((was) => new Set([...was].filter((id) => id !== u.id))); void run(client.addMembers(conversation.id, [u.id])); }} className="w-full rounded-lg px-2 py-1 text-left text-sm hover:bg-slate-100 dark:hover:bg-slate-800">Add {u.displayName}</button></li>
            ))}
          </ul>
        </div>
      )}
      <LeaveGroup client={client} conversation={conversation} onLeft={onChanged} />
      {error && <p role="alert" className="mt-2 text-sm text-red-600 dark:text-red-400">{error}</p>}
    </section>
  );
}

/**
 * "Leave group", asked first. Leaving is for all of this user's devices; the others in the group
 * see that they left, and what this device read stays readable here.
 */
function LeaveGroup({ client, conversation, onLeft }: { client: ChatClient; conversation: Conversation; onLeft: () => void }) {
  const [asking, setAsking] = useState(false);
  const [leaving, setLeaving] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const button = useRef<HTMLButtonElement>(null);
  const cancel = () => {
    setAsking(false);
    // Back where the question came from (on the next paint, once the button is there again).
    setTimeout(() => button.current?.focus(), 0);
  };
  const leave = async () => {
    setLeaving(true);
    setError(null);
    try {
      await client.leaveGroup(conversation.id);
      onLeft();
    } catch (e) {
      setError((e as Error).message);
      setLeaving(false);
    }
  };
  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key !== 'Escape') return;
    // Escape here is about this question, never the conversation behind it, even mid-leave.
    e.stopPropagation();
    if (!leaving) cancel();
  };
  const me = client.user?.id;
  const others = conversation.members.filter((m) => m.userId !== me);
  const owner = conversation.members.find((m) => m.userId === me)?.role === 'owner';
  const consequence = others.length === 0 ? " You're the last one in it, so the group is deleted."
    : owner ? ' Someone else in it becomes its owner.' : '';
  return (
    <div className="mt-4 border-t border-slate-200 pt-3 dark:border-slate-800">
      {asking ? (
        <Confirm id="leave-group-question" question={`Leave ${conversation.title ?? 'this group'}? You'll stop getting its messages on all your devices; what you read here stays on this device.${consequence}`}
          action="Leave" busyAction="Leaving…" busy={leaving} onKeyDown={onKeyDown} onConfirm={() => void leave()} onCancel={cancel} />
      ) : (
        <button ref={button} type="button" onClick={() => { setError(null); setAsking(true); }}
          className="rounded-full px-3 py-1.5 text-sm font-medium text-red-700 hover:bg-red-50 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 dark:text-red-400 dark:hover:bg-red-500/10">
          Leave group
        </button>
      )}
      {error && <p role="alert" className="mt-2 text-sm text-red-600 dark:text-red-400">{error}</p>}
    </div>
  );
}

/** Every member's listed devices and this user's verified mark for each, kept current. */
function useMemberDevices(client: ChatClient, conversation: Conversation, me: string) {
  const ids = conversation.members.map((m) => m.userId);
  const { data, mutate } = useSWR(['member-devices', conversation.id, ids.join(',')], async () => {
    const devices = await client.devicesOf(ids);
    const others = ids.filter((id) => id !== me);
    const verified = Object.fromEntries(await Promise.all(others.map(async (id) => [id, await client.isVerified(id)] as const)));
    return { devices, verified };
  });
  useEffect(() => {
    const offs = [client.on('devices-changed', () => void mutate()), client.on('verification', () => void mutate())];
    return () => offs.forEach((off) => off());
  }, [client, mutate]);
  return data;
}

/** A question ("Remove <name> from this group?") asked in place of the button that asked it, with focus on the question. */
function Confirm({ id, question: text, action, busyAction, busy, onKeyDown, onConfirm, onCancel }: {
  id: string; question: string; action: string; busyAction: string; busy: boolean;
  onKeyDown: (e: KeyboardEvent) => void; onConfirm: () => void; onCancel: () => void;
}) {
  // Focus on the safe answer: the group is named by the question, which a screen reader reads as
  // focus enters it (focusing the question itself had it read twice).
  const cancel = useRef<HTMLButtonElement>(null);
  useEffect(() => cancel.current?.focus(), []);
  const button = 'rounded-full px-3 py-1 text-xs font-medium focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 disabled:opacity-50';
  return (
    <div role="group" aria-labelledby={id} onKeyDown={onKeyDown}
      className="my-1 flex flex-wrap items-center gap-2 rounded-xl border border-red-200 bg-red-50/50 px-3 py-2 dark:border-red-500/30 dark:bg-red-500/5">
      <p id={id} className="text-sm">{text}</p>
      {/* aria-disabled, not disabled, while busy: disabling the focused button would drop focus. */}
      <button type="button" onClick={busy ? undefined : onConfirm} aria-disabled={busy} aria-busy={busy} className={`${button} ${busy ? 'opacity-50' : ''} bg-red-600 text-white hover:bg-red-700`}>
        {busy ? busyAction : action}
      </button>
      <button ref={cancel} type="button" onClick={busy ? undefined : onCancel} aria-disabled={busy} className={`${busy ? 'opacity-50 ' : ''}${button} border border-slate-300 hover:bg-slate-100 dark:border-slate-600 dark:hover:bg-slate-800`}>Cancel</button>
    </div>
  );
}
