#!/usr/bin/env bash
# Builds the Worker (wrangler.toml's [build] command). Fast, unoptimised wasm unless
# WORKER_OPTIMIZE=1 (deploys), which runs wasm-opt from npm's binaryen.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
export_build_env
cd "$ROOT"
# wrangler refuses to start without the assets directory; an API-only run needs no web build.
mkdir -p web/out
# The test runner builds once, then starts many wrangler dev instances that would each rebuild.
if [ "${E2E_PREBUILT:-0}" = 1 ] && [ -f build/index.js ]; then
  exit 0
fi
if [ "${WORKER_OPTIMIZE:-0}" = 1 ]; then
  exec worker-build --release
fi
exec worker-build --release --no-opt
