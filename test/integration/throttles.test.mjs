// Login and registration limits (src/db/throttles.rs) under parallel requests, against the real
// Worker and PostgreSQL. Each test speaks from addresses of its own (CF-Connecting-IP, which
// Cloudflare sets and local wrangler dev passes on as sent), so the tests' counts do not mix.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { startStack } from '../support/stack.mjs';
import { Api, randomPhone } from '../support/api.mjs';

const REGISTRATIONS_PER_HOUR = 3;
// The policy's numbers, as src/db/throttles.rs sets them.
const LOGINS_FROM_ADDRESS = 20;
const FREE_LOGINS_TO_NUMBER = 10;

let stack;
let api;
let admin;

before(async () => {
  stack = await startStack({ vars: { REGISTRATIONS_PER_ADDRESS_PER_HOUR: String(REGISTRATIONS_PER_HOUR) } });
  api = new Api(stack.baseUrl);
  // The first account is the admin (FIRST_USER_ADMIN in the tests' stack).
  admin = (await registerFrom(newAddress())).body;
});
after(() => stack?.stop());

let addresses = 0;
/** A documentation address (RFC 3849) no other request uses. */
// Each in a /64 of its own: the server counts an IPv6 client by its /64, which is the row's key.
const newAddress = () => `2001:db8:${(addresses += 1).toString(16)}::1`;
const networkOf = (address) => address.replace(/::1$/, '::/64');

const PASSWORD = 'correct horse battery';
const login = (phone, password, from) => api.post('/auth/login', { phone, password }, { headers: { 'cf-connecting-ip': from } });
const registerFrom = (from, phone = randomPhone()) =>
  api.post('/auth/register', { phone, displayName: 'Throttled', password: PASSWORD }, { headers: { 'cf-connecting-ip': from } });
/** An account, registered from an address of its own so registrations never limit the test. */
async function account() {
  const res = await registerFrom(newAddress());
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.user;
}

const rowOf = async (kind, key) =>
  (await stack.pool.query('SELECT attempts, blocked_until, expires_at FROM throttles WHERE kind = $1 AND key = $2', [kind, key])).rows[0];
/** The wait of a throttle row, as if it had passed. */
const waitOut = (kind, key) =>
  stack.pool.query('UPDATE throttles SET blocked_until = now() WHERE kind = $1 AND key = $2', [kind, key]);
const statuses = (responses) => responses.map((r) => r.status);
/** The session a token names (its `sid` claim). */
const sessionOf = (token) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).sid;
/** Seconds from now until a throttle row's wait is over (negative: over; no wait, '-infinity', is -Infinity). */
const waitLeft = (row) => (row.blocked_until === -Infinity ? -Infinity : (row.blocked_until.getTime() - Date.now()) / 1000);
async function until(condition, what) {
  for (let i = 0; i < 200; i += 1) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}
const count = (responses, status) => responses.filter((r) => r.status === status).length;

function assertTooMany(res, code = 'too_many_attempts') {
  assert.equal(res.status, 429, JSON.stringify(res.body));
  assert.equal(res.body.error.code, code);
  assert.match(res.body.error.message, /Try again in \d+ (second|minute)s?\./);
  assert.match(res.headers.get('retry-after') ?? '', /^[1-9]\d*$/, 'the wait, in seconds, for clients');
}

test('thirty parallel wrong logins: only the free ten reach the password check, the rest are refused before it', async () => {
  const owner = await account();
  const from = newAddress();
  const guesses = await Promise.all(Array.from({ length: 30 }, (_, i) => login(owner.phone, `guess number ${i}`, from)));
  assert.equal(count(guesses, 401), FREE_LOGINS_TO_NUMBER, statuses(guesses).join(' '));
  assert.equal(count(guesses, 429), 30 - FREE_LOGINS_TO_NUMBER, statuses(guesses).join(' '));
  for (const res of guesses.filter((r) => r.status === 429)) assertTooMany(res);
  assert.equal((await rowOf('login-number', owner.phone)).attempts, FREE_LOGINS_TO_NUMBER, 'the number counted only what it let through');
  assert.equal((await rowOf('login-address', networkOf(from))).attempts, LOGINS_FROM_ADDRESS, 'the address counted up to its limit');
  // The right password from there waits too: it is refused before its hash, like a guess.
  assertTooMany(await login(owner.phone, PASSWORD, from));
});

test('a stranger cannot keep the owner out: the owner gets in from their own address after a short wait', async () => {
  const owner = await account();
  const [stranger, home] = [newAddress(), newAddress()];
  for (let i = 0; i < FREE_LOGINS_TO_NUMBER; i += 1) assert.equal((await login(owner.phone, `guess ${i}`, stranger)).status, 401);
  const strangerWaits = await login(owner.phone, 'one more guess', stranger);
  assertTooMany(strangerWaits);
  assert.match(strangerWaits.body.error.message, /1 minute\./);

  // The owner, from home, waits the number's short wait only (15 seconds), not the stranger's.
  const ownerWaits = await login(owner.phone, PASSWORD, home);
  assertTooMany(ownerWaits);
  assert.match(ownerWaits.body.error.message, /15 seconds\./);
  await waitOut('login-number', owner.phone);
  assert.equal((await login(owner.phone, PASSWORD, home)).status, 200);
  assert.equal(await rowOf('login-number', owner.phone), undefined, "the owner's login resets the number");

  // ...but not the stranger's own wait, which grows with each attempt they make after it.
  assertTooMany(await login(owner.phone, 'guess again', stranger));
  await waitOut('login-number-address', `${owner.phone} ${networkOf(stranger)}`);
  assert.equal((await login(owner.phone, 'guess eleven', stranger)).status, 401);
  const longer = await login(owner.phone, 'guess twelve', stranger);
  assertTooMany(longer);
  assert.match(longer.body.error.message, /2 minutes\./);
  const { attempts } = await rowOf('login-number-address', `${owner.phone} ${networkOf(stranger)}`);
  assert.equal(attempts, FREE_LOGINS_TO_NUMBER + 1, 'refused attempts are not counted, so they do not lengthen the wait');
  // Meanwhile the owner is not kept waiting at all.
  assert.equal((await login(owner.phone, PASSWORD, home)).status, 200);
});

test("a stranger with many addresses cannot hold the owner on a network the owner has logged in from", async () => {
  const owner = await account();
  const home = newAddress();
  assert.equal((await login(owner.phone, PASSWORD, home)).status, 200);
  // A stranger, from a fresh address for each guess, uses up the number's free attempts and keeps
  // it waiting: from anywhere else, the owner waits too.
  for (let i = 0; i < FREE_LOGINS_TO_NUMBER; i += 1) assert.equal((await login(owner.phone, `guess ${i}`, newAddress())).status, 401);
  assertTooMany(await login(owner.phone, 'one more guess', newAddress()));
  assertTooMany(await login(owner.phone, PASSWORD, newAddress()));
  // From home (another address in the same /64), the owner is not held at all...
  const alsoHome = home.replace(/::1$/, '::2');
  assert.equal((await login(owner.phone, 'a typo', alsoHome)).status, 401, 'a mistyped password is checked, not refused');
  assert.equal((await login(owner.phone, PASSWORD, alsoHome)).status, 200);

  // ...and whatever is tried from there counts only against the number from there, which backs
  // off as it does for anyone, and holds no one elsewhere.
  const before = await rowOf('login-number', owner.phone);
  for (let i = 0; i < FREE_LOGINS_TO_NUMBER; i += 1) assert.equal((await login(owner.phone, `home guess ${i}`, home)).status, 401);
  const held = await login(owner.phone, PASSWORD, home);
  assertTooMany(held);
  assert.match(held.body.error.message, /for this number\. Try again in 1 minute\./);
  assert.deepEqual(await rowOf('login-number', owner.phone), before, "the number's count from anywhere is untouched");
  assert.equal((await rowOf('login-address', networkOf(home))).attempts, 0, "nor is the address's count across numbers");
  assert.equal((await login(owner.phone, PASSWORD, newAddress())).status, 200, 'so the owner gets in from elsewhere');
});

test('an address guessing at many numbers does not hold the owners who logged in from it, and only them', async () => {
  const [owner, other] = [await account(), await account()];
  const shared = newAddress();
  assert.equal((await login(owner.phone, PASSWORD, shared)).status, 200);
  const guesses = await Promise.all(Array.from({ length: LOGINS_FROM_ADDRESS }, () => login(randomPhone(), 'a guess at anyone', shared)));
  assert.equal(count(guesses, 401), LOGINS_FROM_ADDRESS, statuses(guesses).join(' '));
  const stopped = await login(other.phone, PASSWORD, shared);
  assertTooMany(stopped);
  assert.match(stopped.body.error.message, /from this network/);
  assert.equal((await login(owner.phone, PASSWORD, shared)).status, 200, 'the owner of a number that logged in from there is let through');
});

test('a network is remembered for 30 days from its last login (and registration); then it is an address like any other', async () => {
  const home = newAddress();
  const registered = await registerFrom(home);
  const owner = registered.body.user;
  const known = async () =>
    (await stack.pool.query('SELECT expires_at FROM login_networks WHERE user_id = $1 AND network = $2', [owner.id, networkOf(home)])).rows[0];
  const daysLeft = (row) => (row.expires_at.getTime() - Date.now()) / 86_400_000;
  assert.ok(Math.abs(daysLeft(await known()) - 30) < 0.01, 'registering is logging in');
  await stack.pool.query("UPDATE login_networks SET expires_at = now() + interval '1 day' WHERE user_id = $1", [owner.id]);
  assert.equal((await login(owner.phone, PASSWORD, home)).status, 200);
  assert.ok(Math.abs(daysLeft(await known()) - 30) < 0.01, 'each login remembers it afresh');

  // Expired, it no longer exempts anything...
  await stack.pool.query("UPDATE login_networks SET expires_at = now() WHERE user_id = $1", [owner.id]);
  for (let i = 0; i < FREE_LOGINS_TO_NUMBER; i += 1) assert.equal((await login(owner.phone, `guess ${i}`, newAddress())).status, 401);
  assertTooMany(await login(owner.phone, PASSWORD, home));
  // ...and is deleted as other logins are remembered; live ones stay.
  const other = await account();
  await stack.pool.query(
    "INSERT INTO login_networks (user_id, network, expires_at) VALUES ($1, 'expired', now() - interval '1 day'), ($1, 'live', now() + interval '1 day')",
    [other.id],
  );
  assert.equal((await login(other.phone, PASSWORD, newAddress())).status, 200);
  const { rows } = await stack.pool.query(
    "SELECT network FROM login_networks WHERE network IN ('expired', 'live') OR (user_id = $1 AND network = $2)",
    [owner.id, networkOf(home)],
  );
  assert.deepEqual(rows.map((r) => r.network), ['live']);
});

test("deleting an account forgets the networks it logged in from", async () => {
  const home = newAddress();
  const { user } = (await registerFrom(home)).body;
  const networks = async () => (await stack.pool.query('SELECT network FROM login_networks WHERE user_id = $1', [user.id])).rows;
  assert.deepEqual(await networks(), [{ network: networkOf(home) }]);
  assert.equal((await api.delete(`/admin/users/${user.id}`, { token: admin.token })).status, 204);
  assert.deepEqual(await networks(), []);
});

test('an attempt given back keeps the wait of an attempt counted after it, and lifts only its own', async () => {
  const owner = await account();
  const stranger = newAddress();
  const pair = `${owner.phone} ${networkOf(stranger)}`;
  for (let i = 0; i < FREE_LOGINS_TO_NUMBER; i += 1) assert.equal((await login(owner.phone, `guess ${i}`, stranger)).status, 401);
  await waitOut('login-number-address', pair);
  // The number's count from anywhere is held (row-locked) while an attempt from the stranger's
  // address, already counted there, waits for it.
  const holder = await stack.pool.connect();
  try {
    await holder.query('BEGIN');
    await holder.query("SELECT 1 FROM throttles WHERE kind = 'login-number' AND key = $1 FOR UPDATE", [owner.phone]);
    const first = login(owner.phone, 'guess eleven', stranger);
    await until(async () => (await rowOf('login-number-address', pair)).attempts === FREE_LOGINS_TO_NUMBER + 1, 'the attempt to be counted');
    // Meanwhile a twelfth attempt from there is counted after it (as one would be once the
    // eleventh's wait is over), with a wait of 4 minutes of its own.
    await stack.pool.query(
      "UPDATE throttles SET attempts = attempts + 1, blocked_until = now() + interval '4 minutes', expires_at = now() + interval '1 day' WHERE kind = 'login-number-address' AND key = $1",
      [pair],
    );
    // The number refuses the eleventh, which gives its count back.
    await holder.query("UPDATE throttles SET blocked_until = now() + interval '5 minutes' WHERE kind = 'login-number' AND key = $1", [owner.phone]);
    await holder.query('COMMIT');
    assertTooMany(await first);
  } finally {
    holder.release();
  }
  const row = await rowOf('login-number-address', pair);
  assert.equal(row.attempts, FREE_LOGINS_TO_NUMBER + 1, 'one given back');
  // Eleven attempts earn 2 minutes, from the twelfth (now the eleventh): not lifted, and no longer 4.
  assert.ok(waitLeft(row) > 110 && waitLeft(row) <= 120, `the later attempt's wait stays, as its count now earns (${waitLeft(row)} s)`);

  // An attempt given back with none counted after it leaves the row as it found it: open.
  await waitOut('login-number-address', pair);
  const refused = await login(owner.phone, 'guess again', stranger);
  assertTooMany(refused);
  assert.match(refused.body.error.message, /5 minutes\./, "refused by the number's wait");
  const after = await rowOf('login-number-address', pair);
  assert.equal(after.attempts, FREE_LOGINS_TO_NUMBER + 1);
  assert.ok(waitLeft(after) <= 0, `no new wait (${waitLeft(after)} s)`);
});

test("knowing one account's password resets nothing about guesses at another", async () => {
  const [victim, own] = [await account(), await account()];
  const from = newAddress();
  for (let i = 0; i < FREE_LOGINS_TO_NUMBER; i += 1) assert.equal((await login(victim.phone, `guess ${i}`, from)).status, 401);
  assert.equal((await login(own.phone, PASSWORD, from)).status, 200);
  assertTooMany(await login(victim.phone, 'guess after logging in elsewhere', from));
  assert.equal((await rowOf('login-number', victim.phone)).attempts, FREE_LOGINS_TO_NUMBER);
  // The address's count kept every guess: the success gave back only its own.
  assert.equal((await rowOf('login-address', networkOf(from))).attempts, FREE_LOGINS_TO_NUMBER + 1, 'ten guesses and the refused one');
});

test("the password entered again has the session's own limit, apart from the number's logins", async () => {
  const res = await registerFrom(newAddress());
  const { user, token } = res.body;
  const stranger = newAddress();
  for (let i = 0; i < FREE_LOGINS_TO_NUMBER; i += 1) assert.equal((await login(user.phone, `guess ${i}`, stranger)).status, 401);
  assertTooMany(await login(user.phone, PASSWORD, newAddress()));

  // Replacing every device needs the password again; a session holding a token guesses slowly.
  const { publicKey } = generateKeyPairSync('ed25519');
  const credential = Buffer.from(publicKey.export({ format: 'jwk' }).x, 'base64url').toString('base64');
  const reset = (password) => api.post('/devices/reset', { label: 'New phone', credential, password }, { token });
  for (let i = 0; i < FREE_LOGINS_TO_NUMBER; i += 1) {
    const wrong = await reset(`wrong password ${i}`);
    assert.deepEqual([wrong.status, wrong.body.error.code], [403, 'wrong_password']);
  }
  const waiting = await reset(PASSWORD);
  assertTooMany(waiting);
  assert.match(waiting.body.error.message, /for this session/);
  await waitOut('password-confirm', sessionOf(token));
  // The stranger's guesses at the number do not stand in the way.
  assert.equal((await reset(PASSWORD)).status, 201);
  assert.equal(await rowOf('password-confirm', sessionOf(token)), undefined, 'the right password resets the count');
  assert.equal((await rowOf('login-number', user.phone)).attempts, FREE_LOGINS_TO_NUMBER, "and the number's logins are apart");
});

test("a stolen token's wrong passwords do not stop the owner's own session from starting over without it", async () => {
  const owner = await account();
  // The thief holds a token of the account (a session of its own) but not the password.
  const thief = (await login(owner.phone, PASSWORD, newAddress())).body.token;
  const { publicKey } = generateKeyPairSync('ed25519');
  const credential = Buffer.from(publicKey.export({ format: 'jwk' }).x, 'base64url').toString('base64');
  const reset = (token, password) => api.post('/devices/reset', { label: 'Phone', credential, password }, { token });
  for (let i = 0; i < FREE_LOGINS_TO_NUMBER; i += 1) {
    assert.deepEqual((await reset(thief, `wrong password ${i}`)).body.error.code, 'wrong_password');
  }
  assertTooMany(await reset(thief, 'one more guess'));
  // The owner, in a session of their own, is not held by the thief's count, and ends the thief's session.
  const own = (await login(owner.phone, PASSWORD, newAddress())).body.token;
  assert.equal((await reset(own, PASSWORD)).status, 201);
  assert.equal((await api.get('/auth/me', { token: thief })).status, 401, "the thief's session is over");
  assert.equal(await rowOf('password-confirm', owner.id), undefined, 'nothing is counted per account');
});

test('one address guessing at many numbers is stopped after twenty, the right password included', async () => {
  const own = await account();
  const from = newAddress();
  const guesses = await Promise.all(Array.from({ length: LOGINS_FROM_ADDRESS + 5 }, () => login(randomPhone(), 'a guess at anyone', from)));
  assert.equal(count(guesses, 401), LOGINS_FROM_ADDRESS, statuses(guesses).join(' '));
  const stopped = await login(own.phone, PASSWORD, from);
  assertTooMany(stopped);
  assert.match(stopped.body.error.message, /from this network/);
  assert.equal((await login(own.phone, PASSWORD, newAddress())).status, 200, 'other addresses are not affected');
  // Once the window is over, the address starts afresh.
  await stack.pool.query("UPDATE throttles SET expires_at = now() WHERE kind = 'login-address' AND key = $1", [networkOf(from)]);
  assert.equal((await login(own.phone, PASSWORD, from)).status, 200);
});

test('parallel registrations from one address create at most the limit of accounts', async () => {
  const from = newAddress();
  const phones = Array.from({ length: 10 }, () => randomPhone());
  const attempts = await Promise.all(phones.map((phone) => registerFrom(from, phone)));
  assert.equal(count(attempts, 201), REGISTRATIONS_PER_HOUR, statuses(attempts).join(' '));
  for (const res of attempts.filter((r) => r.status !== 201)) assertTooMany(res, 'too_many_registrations');
  const { rows } = await stack.pool.query('SELECT count(*)::int AS n FROM users WHERE phone = ANY($1)', [phones]);
  assert.equal(rows[0].n, REGISTRATIONS_PER_HOUR, 'nothing created beyond the limit');

  // A number already taken creates nothing, and counts like any other attempt: asking whether
  // numbers have accounts is limited too.
  const elsewhere = newAddress();
  const takenPhone = phones[attempts.findIndex((r) => r.status === 201)];
  const taken = await registerFrom(elsewhere, takenPhone);
  assert.deepEqual([taken.status, taken.body.error.code], [409, 'phone_taken']);
  for (let i = 1; i < REGISTRATIONS_PER_HOUR; i += 1) assert.equal((await registerFrom(elsewhere)).status, 201);
  assertTooMany(await registerFrom(elsewhere, takenPhone), 'too_many_registrations');
  assertTooMany(await registerFrom(elsewhere), 'too_many_registrations');
  const probing = newAddress();
  for (let i = 0; i < REGISTRATIONS_PER_HOUR; i += 1) assert.equal((await registerFrom(probing, takenPhone)).status, 409);
  assertTooMany(await registerFrom(probing, randomPhone()), 'too_many_registrations');

  // An hour later there is room again.
  await stack.pool.query("UPDATE throttles SET expires_at = now() WHERE kind = 'registration' AND key = $1", [networkOf(from)]);
  assert.equal((await registerFrom(from)).status, 201);
});

test('expired rows are deleted as other attempts come; live ones stay', async () => {
  const kinds = ['login-address', 'login-number', 'login-number-address', 'registration', 'password-confirm'];
  for (const [i, kind] of kinds.entries()) {
    await stack.pool.query(
      "INSERT INTO throttles (kind, key, attempts, blocked_until, expires_at) VALUES ($1, $2, 3, now() - interval '2 days', now() - interval '1 day'), ($1, $3, 3, now(), now() + interval '1 hour')",
      [kind, `expired-${i}`, `live-${i}`],
    );
  }
  // An unknown number leaves rows behind, which expire a day after the attempt.
  const unknown = randomPhone();
  assert.equal((await login(unknown, 'anything at all', newAddress())).status, 401);
  const { rows } = await stack.pool.query("SELECT key FROM throttles WHERE key LIKE 'expired-%' OR key LIKE 'live-%' ORDER BY key");
  assert.deepEqual(rows.map((r) => r.key), kinds.map((_, i) => `live-${i}`));
  const left = await rowOf('login-number', unknown);
  const hoursLeft = (left.expires_at.getTime() - Date.now()) / 3_600_000;
  assert.ok(hoursLeft > 23 && hoursLeft <= 24, `forgotten a day later (${hoursLeft} hours)`);
});

test('an IPv6 client is counted by its /64: fresh addresses in it bring no fresh allowance', async () => {
  const own = await account();
  const prefix = newAddress().replace(/::1$/, '');
  const guesses = await Promise.all(Array.from({ length: LOGINS_FROM_ADDRESS + 5 }, (_, i) => login(randomPhone(), 'a guess at anyone', `${prefix}::${(i + 2).toString(16)}`)));
  assert.equal(count(guesses, 401), LOGINS_FROM_ADDRESS, statuses(guesses).join(' '));
  assertTooMany(await login(own.phone, PASSWORD, `${prefix}:0:1:2:3:4`));
});
