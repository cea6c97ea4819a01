import Link from 'next/link';
import { LockIcon } from '../components/Icons.tsx';
import { ThemeToggle } from '../components/ThemeToggle.tsx';

const features = [
  { title: 'MLS end-to-end encryption', body: 'Every conversation is an RFC 9420 group. Messages are encrypted in your browser; the server stores and routes ciphertext only.' },
  { title: 'Every device, its own keys', body: 'Each browser is a device with its own identity. Add a laptop and it joins your conversations without ever seeing old history.' },
  { title: 'Safety numbers', body: 'Compare a 60-digit fingerprint of everyone in a conversation to know nobody slipped in an extra device.' },
  { title: 'Delivered and read, live', body: 'Ticks, typing and presence travel as metadata over one WebSocket per device, through a Durable Object per user.' },
  { title: 'Groups that stay in order', body: 'Adding and removing people are commits the server orders by epoch, so every member applies the same changes in the same order.' },
  { title: 'Runs at the edge', body: 'A Rust Worker, PostgreSQL through Hyperdrive, and this static site. Open source: start your own product from it.' },
];

const stats = [
  { value: '0', label: 'plaintexts on the server' },
  { value: 'RFC 9420', label: 'Messaging Layer Security' },
  { value: '~10 ms', label: 'send to decrypted, locally' },
  { value: '1', label: 'Durable Object per user' },
];

export default function Landing() {
  return (
    <div className="relative isolate overflow-hidden">
      <div aria-hidden="true" className="pointer-events-none absolute inset-0 -z-10">
        <div className="animate-drift absolute -top-40 left-1/2 h-[36rem] w-[36rem] -translate-x-1/2 rounded-full bg-gradient-to-tr from-brand-400/40 via-cyan-400/30 to-indigo-500/30 blur-3xl dark:from-brand-500/25 dark:via-cyan-500/20 dark:to-indigo-600/25" />
        <div className="animate-drift-slow absolute top-64 -left-24 h-[28rem] w-[28rem] rounded-full bg-gradient-to-br from-fuchsia-400/25 to-brand-400/20 blur-3xl dark:from-fuchsia-600/15 dark:to-brand-500/15" />
      </div>

      <header className="mx-auto flex max-w-6xl items-center justify-between px-6 py-5">
        <span className="inline-flex items-center gap-2 text-lg font-semibold tracking-tight">
          <LockIcon className="h-5 w-5 text-brand-600 dark:text-brand-400" />E2E Chat
        </span>
        <nav className="flex items-center gap-2" aria-label="Account">
          <ThemeToggle />
          <Link href="/login" className="rounded-full px-4 py-2 text-sm font-medium hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 dark:hover:bg-slate-800">Log in</Link>
          <Link href="/register" className="rounded-full bg-brand-600 px-4 py-2 text-sm font-medium text-white hover:bg-brand-700 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 focus-visible:ring-offset-2 dark:focus-visible:ring-offset-slate-950">Sign up</Link>
        </nav>
      </header>

      <main>
        <section className="mx-auto max-w-4xl px-6 pt-16 pb-20 text-center sm:pt-24">
          <p className="mx-auto mb-6 inline-block rounded-full border border-brand-500/30 bg-brand-50/70 px-3 py-1 text-xs font-medium text-brand-700 dark:bg-brand-500/10 dark:text-brand-400">Open source · Encrypted in the browser</p>
          <h1 className="text-4xl font-bold tracking-tight sm:text-6xl">
            Messaging the server{' '}
            {/* Every stop of the gradient is text, so each meets 3:1 for large text on its page. */}
            <span className="bg-gradient-to-r from-brand-600 via-cyan-700 to-indigo-600 bg-clip-text text-transparent dark:from-brand-400 dark:via-cyan-400 dark:to-indigo-400">cannot read</span>
          </h1>
          <p className="mx-auto mt-6 max-w-2xl text-lg text-slate-600 dark:text-slate-300">
            WhatsApp-class chat with MLS end-to-end encryption: one-to-one and groups, every device with its own keys, delivery and read receipts, all running at the edge.
          </p>
          <div className="mt-10 flex flex-wrap justify-center gap-3">
            <Link href="/register" className="rounded-full bg-brand-600 px-6 py-3 font-medium text-white shadow-lg shadow-brand-600/20 hover:bg-brand-700 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 focus-visible:ring-offset-2 dark:focus-visible:ring-offset-slate-950">Create an account</Link>
            <Link href="/login" className="rounded-full border border-slate-300 px-6 py-3 font-medium hover:bg-slate-50 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 dark:border-slate-700 dark:hover:bg-slate-900">I have an account</Link>
          </div>
        </section>

        <section aria-label="In numbers" className="mx-auto max-w-5xl px-6">
          <dl className="grid grid-cols-2 gap-4 rounded-3xl border border-slate-200 bg-white/60 p-6 backdrop-blur sm:grid-cols-4 dark:border-slate-800 dark:bg-slate-900/50">
            {stats.map((s) => (
              <div key={s.label} className="text-center">
                <dt className="text-xs uppercase tracking-wide text-muted">{s.label}</dt>
                <dd className="mt-1 text-2xl font-semibold">{s.value}</dd>
              </div>
            ))}
          </dl>
        </section>

        <section aria-labelledby="features" className="mx-auto max-w-6xl px-6 py-20">
          <h2 id="features" className="text-center text-2xl font-semibold sm:text-3xl">Private by construction</h2>
          <ul className="mt-10 grid gap-6 sm:grid-cols-2 lg:grid-cols-3">
            {features.map((f) => (
              <li key={f.title} className="rounded-2xl border border-slate-200 bg-white/70 p-6 shadow-sm transition hover:-translate-y-0.5 hover:shadow-md dark:border-slate-800 dark:bg-slate-900/60">
                <h3 className="font-semibold">{f.title}</h3>
                <p className="mt-2 text-sm text-slate-600 dark:text-slate-300">{f.body}</p>
              </li>
            ))}
          </ul>
        </section>
      </main>

      <footer className="border-t border-slate-200 py-8 text-center text-sm text-muted dark:border-slate-800">
        E2E Chat — MIT licensed. The server never sees a message.
      </footer>
    </div>
  );
}
