import type { MetadataRoute } from 'next';

// The web app manifest (/manifest.webmanifest, linked from every page): what makes the app
// installable, and how it opens once installed. Icons: scripts/icons.mjs renders them from
// app/icon.svg.
export const dynamic = 'force-static';

export default function manifest(): MetadataRoute.Manifest {
  return {
    id: '/chat',
    name: 'E2E Chat',
    short_name: 'E2E Chat',
    description: 'End-to-end encrypted messaging with MLS. The server only ever sees ciphertext.',
    // Installed, it opens on the conversations (which sends to sign-in when there is no session).
    start_url: '/chat',
    scope: '/',
    display: 'standalone',
    background_color: '#ffffff',
    // As the light theme's page (layout.tsx's theme-color), so the app starts without a flash of colour.
    theme_color: '#ffffff',
    icons: [
      { src: '/icons/icon-192.png', sizes: '192x192', type: 'image/png', purpose: 'any' },
      { src: '/icons/icon-512.png', sizes: '512x512', type: 'image/png', purpose: 'any' },
      { src: '/icons/maskable-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
    ],
  };
}
