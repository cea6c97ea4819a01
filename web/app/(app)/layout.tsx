import type { ReactNode } from 'react';
import { SessionProvider } from '../../lib/session.tsx';

// Everything behind sign-in shares one ChatClient; the landing page does not load it.
export default function AppLayout({ children }: { children: ReactNode }) {
  return <SessionProvider>{children}</SessionProvider>;
}
