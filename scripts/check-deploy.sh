#!/usr/bin/env bash
# Checks that wrangler.toml's top level (what `wrangler deploy` sends) is sound to deploy, and builds
# the Worker exactly as a deploy does (`wrangler deploy --dry-run`) to check the bundle.
#
#   bash scripts/check-deploy.sh [--ci] [--config-only] [--allow-first-user-admin] [--config FILE]
#
# Strict (the default, what scripts/deploy runs): a real deploy follows, so the placeholder
# Hyperdrive id, a missing web build, a JWT_SECRET that `wrangler secret list` does not show and a
# Hyperdrive config that caches reads are failures (this mode needs Cloudflare credentials:
# `wrangler login`, or CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID).
# --ci (what scripts/test runs): no credentials and no network; the placeholder id is allowed and
# secrets are not looked up (a deploy still fails without JWT_SECRET: wrangler.toml's [secrets]).
# --config-only skips the build (the configuration checks alone, in a couple of seconds).
# --allow-first-user-admin accepts FIRST_USER_ADMIN on, for the deploy that creates the first admin.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

MODE=strict
BUILD=1
ALLOW_FIRST_USER_ADMIN=0
CONFIG="$ROOT/wrangler.toml"
while [ $# -gt 0 ]; do
  case "$1" in
    --ci) MODE=ci ;;
    --config-only) BUILD=0 ;;
    --allow-first-user-admin) ALLOW_FIRST_USER_ADMIN=1 ;;
    --config) [ $# -ge 2 ] || die "--config needs a file"; CONFIG="$2"; shift ;;
    --config=*) CONFIG="${1#--config=}" ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done
[ -f "$CONFIG" ] || die "no Wrangler configuration at $CONFIG"
CONFIG="$(cd "$(dirname "$CONFIG")" && pwd)/$(basename "$CONFIG")"

cd "$ROOT"
ensure_node
# CLOUDFLARE_ENV would make wrangler read (and deploy) a named environment instead of the top
# level; every wrangler call below also passes --env="" to target the top level explicitly.
unset CLOUDFLARE_ENV

# The size a deploy may reach: about 1 MB gzipped keeps startup fast and well inside Workers'
# limits (3 MB gzipped on the free plan, 10 MB paid). Raised from 1,000 kB to 1,025 kB when a hub's
# push state came to be saved across its instances (serde's readers for it: about 22 kB gzipped).
WASM_GZIP_LIMIT_BYTES=1025000

# The configuration, as wrangler itself resolves it for the top level. Prints one line per
# finding, "error: ..." or "note: ...".
check_configuration() {
  CHECK_CONFIG="$CONFIG" CHECK_MODE="$MODE" CHECK_ALLOW_FIRST_USER_ADMIN="$ALLOW_FIRST_USER_ADMIN" \
    node --input-type=module - <<'EOF'
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { unstable_readConfig } from 'wrangler';

const configPath = process.env.CHECK_CONFIG;
const strict = process.env.CHECK_MODE === 'strict';
const allowFirstUserAdmin = process.env.CHECK_ALLOW_FIRST_USER_ADMIN === '1';
const errors = [];
const notes = [];

let config;
try {
  config = unstable_readConfig({ config: configPath, env: '' });
} catch (e) {
  console.log(`error: wrangler cannot read ${configPath}: ${e.message}`);
  process.exit(0);
}
const vars = config.vars ?? {};
// As src/config.rs reads a var: trimmed, empty meaning unset.
const varValue = (name) => {
  const v = vars[name];
  if (v === undefined || v === null) return undefined;
  const s = String(v).trim();
  return s === '' ? undefined : s;
};

const environment = varValue('ENVIRONMENT');
if (environment !== 'production') {
  errors.push(`ENVIRONMENT is ${environment === undefined ? 'unset' : JSON.stringify(environment)}; the top level must say "production" (development settings belong in [env.dev]).`);
}

// src/config.rs: anything but false/0/no turns first-user admin on; unset, it is off in production
// (which ENVIRONMENT, checked above, must be).
const firstUserAdmin = varValue('FIRST_USER_ADMIN');
const firstUserAdminOn = firstUserAdmin !== undefined && !['false', '0', 'no'].includes(firstUserAdmin);
if (firstUserAdminOn && !allowFirstUserAdmin) {
  errors.push(`FIRST_USER_ADMIN is ${JSON.stringify(firstUserAdmin)}: the first stranger to register would become admin. Set FIRST_USER_ADMIN = "false" and create the admin with the ADMIN_PHONE and ADMIN_PASSWORD secrets, or pass --allow-first-user-admin for the one deploy that should do this.`);
} else if (firstUserAdminOn) {
  notes.push('FIRST_USER_ADMIN is on (allowed by --allow-first-user-admin): register the admin right away, then set it to "false" and deploy again.');
}

const registrations = varValue('REGISTRATIONS_PER_ADDRESS_PER_HOUR');
if (registrations !== undefined) {
  if (!/^\d+$/.test(registrations)) {
    errors.push(`REGISTRATIONS_PER_ADDRESS_PER_HOUR is ${JSON.stringify(registrations)}, not a whole number (the server would ignore it).`);
  } else if (Number(registrations) === 0) {
    errors.push('REGISTRATIONS_PER_ADDRESS_PER_HOUR is 0, which turns the per-address registration limit off; leave it unset (10) or set a positive number.');
  }
}

const iterations = varValue('PBKDF2_ITERATIONS');
if (iterations !== undefined && !(/^\d+$/.test(iterations) && Number(iterations) >= 600000)) {
  errors.push(`PBKDF2_ITERATIONS is ${JSON.stringify(iterations)}; production refuses fewer than 600000 (every auth route would answer 500). Leave it unset.`);
}

for (const origin of (varValue('ALLOWED_ORIGINS') ?? '').split(',').map((o) => o.trim()).filter(Boolean)) {
  if (origin === '*') {
    errors.push('ALLOWED_ORIGINS contains "*": any web page could call the API with a user\'s token. Name the web app\'s origin instead.');
    continue;
  }
  let url;
  try {
    url = new URL(origin);
  } catch {
    errors.push(`ALLOWED_ORIGINS entry ${JSON.stringify(origin)} is not an origin (https://host[:port]).`);
    continue;
  }
  // Loopback in any spelling: localhost and its subdomains, 127.0.0.0/8, ::1, 0.0.0.0.
  const host = url.hostname.toLowerCase();
  const local = host === 'localhost' || host.endsWith('.localhost') || /^127(\.\d{1,3}){3}$/.test(host)
    || host === '[::1]' || host === '0.0.0.0';
  if (local) {
    errors.push(`ALLOWED_ORIGINS contains ${origin}, a development origin; in production list only the web app's own origin.`);
  } else if (url.protocol !== 'https:') {
    errors.push(`ALLOWED_ORIGINS entry ${origin} is not https; tokens would cross the network in the clear.`);
  }
}

for (const name of ['JWT_SECRET', 'ADMIN_PASSWORD']) {
  if (name in vars) errors.push(`${name} is a plain [vars] entry, readable by anyone with the file or the dashboard; remove it and use \`wrangler secret put ${name}\`.`);
}
const quota = varValue('ATTACHMENT_QUOTA_BYTES');
if (quota !== undefined && !(/^\d+$/.test(quota) && Number(quota) > 0)) {
  errors.push(`ATTACHMENT_QUOTA_BYTES is ${JSON.stringify(quota)}, not a positive whole number of bytes (the server would ignore it and use 1 GiB).`);
}

const knownVars = ['ENVIRONMENT', 'ALLOWED_ORIGINS', 'FIRST_USER_ADMIN', 'REGISTRATIONS_PER_ADDRESS_PER_HOUR', 'HUB_DB_IDLE_SECONDS', 'PBKDF2_ITERATIONS', 'ATTACHMENT_QUOTA_BYTES', 'ADMIN_PHONE', 'JWT_SECRET', 'ADMIN_PASSWORD'];
for (const name of Object.keys(vars)) {
  if (!knownVars.includes(name)) notes.push(`[vars] has ${name}, which this check does not know (a misspelt name is silently ignored by the server).`);
}

if (!(config.secrets?.required ?? []).includes('JWT_SECRET')) {
  errors.push('[secrets] required does not list JWT_SECRET, so a deploy without it would succeed and every auth route answer 500.');
}

const hyperdrive = (config.hyperdrive ?? []).find((h) => h.binding === 'HYPERDRIVE');
if (!hyperdrive) {
  errors.push('no Hyperdrive binding named HYPERDRIVE ([[hyperdrive]] binding = "HYPERDRIVE"): the Worker has no database.');
} else if (!/^[0-9a-f]{32}$/i.test(hyperdrive.id ?? '')) {
  errors.push(`the HYPERDRIVE id ${JSON.stringify(hyperdrive.id)} is not a Hyperdrive config id (32 hex digits, from \`wrangler hyperdrive create\`).`);
} else if (/^0+$/.test(hyperdrive.id)) {
  const placeholder = 'the HYPERDRIVE id is the all-zero placeholder: create one with `wrangler hyperdrive create e2e-chat --connection-string=postgres://...` and put its id in wrangler.toml';
  if (strict) errors.push(`${placeholder}.`);
  else notes.push(`${placeholder} before a real deploy (allowed in --ci).`);
}

const userHub = (config.durable_objects?.bindings ?? []).find((b) => b.name === 'USER_HUB');
if (!userHub) {
  errors.push('no Durable Object binding USER_HUB ([durable_objects] bindings = [{ name = "USER_HUB", class_name = "UserHub" }]): realtime would fail.');
} else {
  if (userHub.class_name !== 'UserHub') errors.push(`USER_HUB is bound to class ${JSON.stringify(userHub.class_name)}; the Worker exports UserHub.`);
  if (userHub.script_name && userHub.script_name !== config.name) errors.push(`USER_HUB points at another Worker (script_name ${JSON.stringify(userHub.script_name)}).`);
}
const attachments = (config.r2_buckets ?? []).find((b) => b.binding === 'ATTACHMENTS');
if (!attachments) {
  errors.push('no R2 binding ATTACHMENTS ([[r2_buckets]] binding = "ATTACHMENTS", bucket_name = "e2e-chat-attachments"): every attachment upload and download would fail.');
} else if (!attachments.bucket_name) {
  errors.push('the R2 binding ATTACHMENTS names no bucket_name.');
}
// The sweep deletes abandoned uploads and those of deleted conversations and accounts; without
// a cron it never runs, and they stay in the bucket for good.
if (!(config.triggers?.crons ?? []).length) {
  errors.push('no cron trigger ([triggers] crons = ["17 * * * *"]): the sweep of abandoned uploads (src/sweep.rs) would never run.');
}
// keep_vars keeps what was set in the dashboard over what this file says: the vars checked here
// would not be the vars the Worker runs with.
if (config.keep_vars) errors.push('keep_vars = true: the Worker would keep variables set in the dashboard, which this check never sees. Remove it.');
const migrated = (config.migrations ?? []).some((m) => [...(m.new_sqlite_classes ?? []), ...(m.new_classes ?? [])].includes('UserHub'));
if (!migrated) errors.push('no [[migrations]] entry creates UserHub (new_sqlite_classes = ["UserHub"]): Cloudflare refuses a Durable Object class without one.');

if (!config.assets?.directory) {
  errors.push('no [assets] directory: the Worker would not serve the web app (assets.directory = "./web/out").');
} else if (strict) {
  const index = resolve(dirname(configPath), config.assets.directory, 'index.html');
  if (!existsSync(index)) errors.push(`${index} is missing: build the web app first (bash scripts/build-web.sh).`);
}

for (const n of notes) console.log(`note: ${n}`);
for (const e of errors) console.log(`error: ${e}`);
EOF
}

# The bundle the dry run wrote: the wasm's size gzipped, and the Durable Object class exported.
check_bundle() {
  local outdir="$1"
  CHECK_OUTDIR="$outdir" CHECK_LIMIT="$WASM_GZIP_LIMIT_BYTES" node --input-type=module - <<'EOF'
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const outdir = process.env.CHECK_OUTDIR;
const limit = Number(process.env.CHECK_LIMIT);
const files = readdirSync(outdir);
const wasm = files.filter((f) => f.endsWith('.wasm'));
const kB = (n) => `${(n / 1000).toFixed(1)} kB`;
if (wasm.length !== 1) {
  console.log(`error: the dry run wrote ${wasm.length} wasm files to ${outdir} (${files.join(', ')}); expected one.`);
  process.exit(0);
}
const bytes = readFileSync(join(outdir, wasm[0]));
const gzipped = gzipSync(bytes, { level: 9 }).length;
console.log(`note: wasm ${kB(bytes.length)}, gzipped ${kB(gzipped)} (limit ${kB(limit)} gzipped)`);
if (gzipped > limit) console.log(`error: the wasm is ${kB(gzipped)} gzipped, over the ${kB(limit)} limit.`);
// The bundle of wrangler.toml's `main` (src/worker.mjs), named after it.
const entry = files.find((f) => /^worker\.m?js$/.test(f));
const source = entry ? readFileSync(join(outdir, entry), 'utf8') : '';
if (!/export\s*\{[^}]*\bUserHub\b[^}]*\}/.test(source)) {
  console.log(`error: the bundle (${entry ?? 'no worker.js'}) does not export UserHub, the class USER_HUB binds.`);
}
// Hubs call each other by RPC (src/hub/rpc.rs), which workerd offers only on a DurableObject.
if (!/(class\s+UserHub\w*|UserHub\w*\s*=\s*class)\s+extends\s+DurableObject\w*\s*\{/.test(source)) {
  console.log(`error: the bundle's UserHub does not extend DurableObject, so hubs could not call each other by RPC.`);
}
EOF
}

# Prints the findings; returns 1 if any is an error.
report() {
  local findings="$1" failed=0 line
  while IFS= read -r line; do
    case "$line" in
      error:*) printf '\033[31m  ✗ %s\033[0m\n' "${line#error: }" >&2; failed=1 ;;
      note:*) printf '  · %s\n' "${line#note: }" >&2 ;;
      '') ;;
      *) printf '    %s\n' "$line" >&2 ;;
    esac
  done <<<"$findings"
  return "$failed"
}

fail() {
  printf '\033[31;1mdeploy check FAILED\033[0m (%s, %s mode): %s\n' "${CONFIG#"$ROOT"/}" "$MODE" "$*" >&2
  exit 1
}

say "Deploy check ($MODE): the top level of ${CONFIG#"$ROOT"/}"
findings="$(check_configuration)" || fail "the configuration check could not run (see above)"
report "$findings" || fail "the configuration is not fit for production (see above)"

if [ "$MODE" = strict ]; then
  say "Secrets set on the Worker (wrangler secret list)"
  secrets_log="$(mktemp)"
  if ! secrets="$(node_modules/.bin/wrangler secret list --format json --env="" --config "$CONFIG" 2>"$secrets_log")"; then
    { printf '%s\n' "$secrets"; cat "$secrets_log"; } | tail -15 >&2
    rm -f "$secrets_log"
    fail "could not list the Worker's secrets: log in (wrangler login, or CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID), and set JWT_SECRET first (wrangler secret put JWT_SECRET creates the Worker if it does not exist)"
  fi
  rm -f "$secrets_log"
  findings="$(SECRETS_JSON="$secrets" node --input-type=module - <<'EOF'
// wrangler may print a banner before the JSON array, which starts a line.
const text = process.env.SECRETS_JSON;
const start = text.search(/^\[/m);
let names;
try {
  if (start < 0) throw new Error('no JSON array');
  names = JSON.parse(text.slice(start)).map((s) => s.name);
} catch {
  console.log(`error: could not read wrangler secret list's answer: ${text.slice(0, 300)}`);
  process.exit(0);
}
console.log(`note: secrets set: ${names.length ? names.join(', ') : 'none'}`);
if (!names.includes('JWT_SECRET')) console.log('error: JWT_SECRET is not set: wrangler secret put JWT_SECRET (at least 32 bytes, e.g. openssl rand -base64 48).');
// A secret wins over a var of the same name (src/config.rs), and its value cannot be read here.
for (const name of ['ENVIRONMENT', 'FIRST_USER_ADMIN', 'REGISTRATIONS_PER_ADDRESS_PER_HOUR', 'PBKDF2_ITERATIONS', 'ALLOWED_ORIGINS']) {
  if (names.includes(name)) console.log(`error: a secret named ${name} overrides the checked var with a value this check cannot see: wrangler secret delete ${name}.`);
}
if (names.includes('ADMIN_PHONE') !== names.includes('ADMIN_PASSWORD')) console.log('note: only one of ADMIN_PHONE and ADMIN_PASSWORD is set; the bootstrap admin needs both.');
EOF
)" || fail "the secrets check could not run (see above)"
  report "$findings" || fail "the Worker's secrets are not ready (see above)"

  # Hyperdrive caches read queries for a minute by default: a revoked session would still pass,
  # and a sync could miss messages just written. The API needs every read fresh.
  hyperdrive_id="$(CHECK_CONFIG="$CONFIG" node --input-type=module -e '
    import { unstable_readConfig } from "wrangler";
    const c = unstable_readConfig({ config: process.env.CHECK_CONFIG, env: "" });
    console.log((c.hyperdrive ?? []).find((h) => h.binding === "HYPERDRIVE").id);' 2>/dev/null)" \
    || fail "could not read the HYPERDRIVE id again"
  say "Hyperdrive config $hyperdrive_id (wrangler hyperdrive get)"
  hyperdrive_log="$(mktemp)"
  if ! hyperdrive="$(node_modules/.bin/wrangler hyperdrive get "$hyperdrive_id" --config "$CONFIG" 2>"$hyperdrive_log")"; then
    { printf '%s\n' "$hyperdrive"; cat "$hyperdrive_log"; } | tail -15 >&2
    rm -f "$hyperdrive_log"
    fail "no Hyperdrive config $hyperdrive_id in this account (wrangler hyperdrive list shows yours)"
  fi
  rm -f "$hyperdrive_log"
  findings="$(HYPERDRIVE_JSON="$hyperdrive" node --input-type=module - <<'EOF'
// wrangler prints a banner before the JSON object, which starts a line.
const text = process.env.HYPERDRIVE_JSON;
const start = text.search(/^\{/m);
let config;
try {
  if (start < 0) throw new Error('no JSON object');
  config = JSON.parse(text.slice(start));
} catch {
  console.log(`error: could not read wrangler hyperdrive get's answer: ${text.slice(0, 300)}`);
  process.exit(0);
}
console.log(`note: Hyperdrive ${config.name ?? config.id} reaches ${config.origin?.host ?? 'an unnamed host'}`);
if (config.caching?.disabled !== true) {
  console.log(`error: Hyperdrive ${config.id} caches read queries (up to a minute by default): a revoked session would still pass and a sync could miss new messages. Turn it off: wrangler hyperdrive update ${config.id} --caching-disabled`);
}
EOF
)" || fail "the Hyperdrive check could not run (see above)"
  report "$findings" || fail "the Hyperdrive config is not fit for this API (see above)"
fi

if [ "$BUILD" = 1 ]; then
  ensure_rust_tools
  OUTDIR="$(mktemp -d)"
  trap 'rm -rf "$OUTDIR"' EXIT
  say "wrangler deploy --dry-run (an optimised build, as a deploy makes it)"
  # Always a fresh build (a prebuilt one may be the tests' unoptimised wasm), optimised like a deploy.
  if ! dry_run="$(E2E_PREBUILT=0 WORKER_OPTIMIZE=1 node_modules/.bin/wrangler deploy --dry-run --env="" \
      --config "$CONFIG" --outdir "$OUTDIR" 2>&1)"; then
    printf '%s\n' "$dry_run" | tail -40 >&2
    fail "wrangler deploy --dry-run failed (see above)"
  fi
  # What wrangler itself says it would bind, as a second opinion on the configuration read above.
  bound=""
  for expected in 'env.USER_HUB (UserHub)' 'env.HYPERDRIVE (' 'env.ATTACHMENTS (' 'env.ENVIRONMENT ("production")'; do
    grep -qF "$expected" <<<"$dry_run" || bound+="error: wrangler's dry run does not list the binding $expected"$'\n'
  done
  upload="$(grep -m1 '^Total Upload' <<<"$dry_run" || true)"
  [ -n "$upload" ] && bound+="note: ${upload}, as wrangler counts the whole upload"$'\n'
  findings="$bound$(check_bundle "$OUTDIR")" || fail "the bundle check could not run (see above)"
  report "$findings" || fail "the bundle is not fit to deploy (see above)"
fi

say "Deploy check passed ($MODE)"
