import path from 'node:path';
import type { NextConfig } from 'next';

// A static export: the Worker serves web/out from its assets in local dev, and any static host
// can serve it in production (NEXT_PUBLIC_API_URL / NEXT_PUBLIC_WS_URL then name the API).
const config: NextConfig = {
  output: 'export',
  images: { unoptimized: true },
  reactStrictMode: true,
  poweredByHeader: false,
  // The npm workspace installs packages at the repository root.
  turbopack: { root: path.join(import.meta.dirname, '..') },
  outputFileTracingRoot: path.join(import.meta.dirname, '..'),
};

export default config;
