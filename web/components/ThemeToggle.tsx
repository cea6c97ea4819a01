'use client';

import { useEffect } from 'react';

type Theme = 'light' | 'dark';

const SYSTEM_DARK = '(prefers-color-scheme: dark)';

function apply(theme: Theme) {
  const root = document.documentElement;
  root.classList.toggle('dark', theme === 'dark');
  root.style.colorScheme = theme;
}

/** The stored choice, else the system's: the rule the root layout's script paints the first frame by. */
function preferred(): Theme {
  const stored = localStorage.getItem('theme');
  return stored === 'dark' || (!stored && matchMedia(SYSTEM_DARK).matches) ? 'dark' : 'light';
}

/**
 * Light/dark switch. The choice is stored and followed by every open tab; with none stored, the
 * system's setting is followed as it changes.
 */
export function ThemeToggle({ className = '' }: { className?: string }) {
  useEffect(() => {
    const follow = () => apply(preferred());
    const onStorage = (e: StorageEvent) => {
      if (e.key === 'theme') follow();
    };
    const system = matchMedia(SYSTEM_DARK);
    window.addEventListener('storage', onStorage);
    system.addEventListener('change', follow);
    return () => {
      window.removeEventListener('storage', onStorage);
      system.removeEventListener('change', follow);
    };
  }, []);

  const toggle = () => {
    const next: Theme = document.documentElement.classList.contains('dark') ? 'light' : 'dark';
    localStorage.setItem('theme', next);
    apply(next);
  };

  // Both faces are rendered and the `dark` class shows one, in CSS: the first paint, before React
  // has run, already has the right glyph and name.
  return (
    <button
      type="button"
      onClick={toggle}
      className={`inline-flex h-9 w-9 items-center justify-center rounded-full text-slate-600 hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 dark:text-slate-300 dark:hover:bg-slate-800 ${className}`}
    >
      <span className="dark:hidden" title="Dark mode"><span aria-hidden="true">☾</span><span className="sr-only">Switch to dark mode</span></span>
      <span className="hidden dark:inline" title="Light mode"><span aria-hidden="true">☀︎</span><span className="sr-only">Switch to light mode</span></span>
    </button>
  );
}
