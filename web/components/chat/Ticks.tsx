import type { LocalMessage } from '../../sdk/client.ts';
import { ClockIcon, TickIcon } from '../Icons.tsx';

/**
 * Ticks for the sender's own messages: a clock while sending, one tick when the server has it,
 * two when delivered, and two on a filled badge when read, so that read differs from delivered
 * by shape as well as by colour.
 */
export function Ticks({ status }: { status: LocalMessage['status'] }) {
  if (status === 'received') return null;
  const label = { sending: 'Sending', sent: 'Sent', delivered: 'Delivered', read: 'Read', failed: 'Not sent' }[status];
  const look = {
    sending: 'text-slate-600 dark:text-slate-300',
    sent: 'text-slate-600 dark:text-slate-300',
    delivered: 'text-slate-600 dark:text-slate-300',
    read: 'rounded-full bg-sky-700 px-1 text-white dark:bg-sky-400 dark:text-slate-900',
    failed: 'font-bold text-red-700 dark:text-red-300',
  }[status];
  const glyph = {
    sending: <ClockIcon />, sent: <TickIcon />, delivered: <TickIcon double />, read: <TickIcon double />, failed: '!',
  }[status];
  return (
    <span data-status={status} role="img" aria-label={label} title={label} className={`ml-1 inline-flex items-center align-[-2px] ${look}`}>
      {glyph}
    </span>
  );
}
