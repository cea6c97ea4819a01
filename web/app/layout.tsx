import type { Metadata, Viewport } from 'next';
import type { ReactNode } from 'react';
import { AppUpdates } from '../components/AppUpdates.tsx';
import './globals.css';

export const metadata: Metadata = {
  title: 'E2E Chat',
  description: 'End-to-end encrypted messaging with MLS. The server only ever sees ciphertext.',
};

export const viewport: Viewport = {
  width: 'device-width',
  initialScale: 1,
  themeColor: [
    { media: '(prefers-color-scheme: light)', color: '#ffffff' },
    { media: '(prefers-color-scheme: dark)', color: '#020617' },
  ],
};

// Runs before the body is parsed, so the first paint already has the right theme: the stored
// choice, else the system preference.
const themeScript = `(function(){try{var s=localStorage.getItem('theme');var d=s?s==='dark':matchMedia('(prefers-color-scheme: dark)').matches;var r=document.documentElement;r.classList.toggle('dark',d);r.style.colorScheme=d?'dark':'light';}catch(e){}})();`;

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en" suppressHydrationWarning>
      <head>
        <script dangerouslySetInnerHTML={{ __html: themeScript }} />
      </head>
      <body className="min-h-dvh bg-white text-slate-900 antialiased dark:bg-slate-950 dark:text-slate-100">
        <AppUpdates />
        {children}
      </body>
    </html>
  );
}
