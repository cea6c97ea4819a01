#!/usr/bin/env bash
# Builds the web app's static export into web/out (served by the Worker's assets in local dev).
# `next build` also type-checks everything in web/tsconfig.json: the app, the SDK and its tests.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
export_build_env
cd "$ROOT/web"
NEXT_TELEMETRY_DISABLED=1 "$ROOT/node_modules/.bin/next" build
node "$ROOT/scripts/csp-headers.mjs" "$ROOT/web/out"
# The service worker, with the list of what it caches (every file just built) and its version.
node "$ROOT/scripts/service-worker.mjs" "$ROOT/web/out"
