// End-to-end encryption costs, with the real SDK against the real Worker under wrangler dev and
// PostgreSQL, loopback only: time to set up an MLS group of N members (one commit adding every
// device, and until every member has joined from the Welcome), MLS encrypt+decrypt per message,
// key-package claim latency, send→decrypt latency through the server, and linking a second browser.
//
//   bash bench/run e2e [--sizes 2,10,50] [--messages 200] [--claims 100] [--linked-chats 5]
import 'fake-indexeddb/auto';
import { parseArgs } from 'node:util';
import { randomUUID } from 'node:crypto';
import { startStack } from '../test/support/stack.mjs';
import { randomPhone } from '../test/support/api.mjs';
import { waitFor } from '../test/support/wait.mjs';
import { ChatClient } from '../web/sdk/client.ts';
import { commitChanges, decrypt, encrypt, joinFromWelcome, newGroup, newIdentity, newKeyPackage } from '../web/sdk/mls.ts';
import { identityOf } from '../web/sdk/credentials.ts';

const { values: opts } = parseArgs({
  options: {
    sizes: { type: 'string', default: '2,10,50' },
    messages: { type: 'string', default: '200' },
    claims: { type: 'string', default: '100' },
    'linked-chats': { type: 'string', default: '5' },
  },
});
const sizes = opts.sizes.split(',').map(Number);
const MESSAGES = Number(opts.messages);
const CLAIMS = Number(opts.claims);
const LINKED_CHATS = Number(opts['linked-chats']);

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const ms = (x) => `${x.toFixed(1)} ms`;
const results = {};

// MLS alone: encrypt by one member, decrypt by another, per message.
{
  // No server here: the authentication service is a directory of the two devices made below.
  const alice = await newIdentity(randomUUID(), randomUUID());
  const bobIdentity = await newIdentity(randomUUID(), randomUUID());
  const listed = new Map([alice, bobIdentity].map((d) => [`${d.userId}/${d.deviceId}`, d.publicKey.join(',')]));
  const auth = {
    async validateCredential(credential, key) {
      const id = identityOf(credential);
      return !!id && listed.get(`${id.userId}/${id.deviceId}`) === key.join(',');
    },
  };
  const bobKp = await newKeyPackage(bobIdentity);
  let a = await newGroup('bench', alice);
  const added = await commitChanges(a, [bobKp.publicPackage], [], auth);
  a = added.state;
  let b = await joinFromWelcome(added.welcome, bobKp, auth, 'bench');
  let encryptMs = 0;
  let decryptMs = 0;
  for (let i = 0; i < MESSAGES; i += 1) {
    const t0 = performance.now();
    const made = await encrypt(a, `message ${i} ${'x'.repeat(100)}`);
    const t1 = performance.now();
    b = (await decrypt(b, made.ciphertext, auth)).state;
    const t2 = performance.now();
    a = made.state;
    encryptMs += t1 - t0;
    decryptMs += t2 - t1;
  }
  results.encryptMs = encryptMs / MESSAGES;
  results.decryptMs = decryptMs / MESSAGES;
  console.log(`# MLS per message (${MESSAGES}, ~110 bytes): encrypt ${ms(results.encryptMs)}, decrypt ${ms(results.decryptMs)}`);
}

const stack = await startStack();
const clients = [];
let storeCounter = 0;
async function client(name) {
  const c = new ChatClient({ baseUrl: stack.baseUrl, storeName: `bench-${++storeCounter}`, deviceLabel: name, keyPackageTarget: 2 });
  await c.register(randomPhone(), name, 'correct horse battery');
  clients.push(c);
  return c;
}
// Polled every 10 ms, so waiting adds at most that to a measured latency.
const until = (condition, timeoutMs = 120_000) => waitFor(condition, { timeoutMs, intervalMs: 10, what: 'the benchmark step' });

try {
  // Claim latency: one user with one device and plenty of packages.
  {
    // The server serves one claimer at most 20 one-time packages of a user per hour (then only the
    // last-resort one), so the consuming path is measured with a fresh claimer every 20 claims.
    const claimers = [];
    for (let i = 0; i < CLAIMS; i += 20) claimers.push(await client(`Claimer ${i / 20}`));
    const target = await client('Target');
    const kps = [];
    for (let i = 0; i < CLAIMS; i += 1) kps.push(Buffer.from((await newKeyPackage(await newIdentity(target.user.id, target.deviceId))).publicPackage).toString('base64'));
    for (let i = 0; i < kps.length; i += 100) await target.api.uploadKeyPackages(target.deviceId, kps.slice(i, i + 100));
    const latencies = [];
    for (let i = 0; i < CLAIMS; i += 1) {
      const t0 = performance.now();
      await claimers[Math.floor(i / 20)].api.claimKeyPackages(target.user.id);
      latencies.push(performance.now() - t0);
    }
    latencies.sort((x, y) => x - y);
    results.claim = { p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
    console.log(`# key-package claim (${CLAIMS}, one device): p50 ${ms(results.claim.p50)}, p99 ${ms(results.claim.p99)}`);
  }

  // Group set-up by size.
  results.groups = {};
  for (const size of sizes) {
    const members = [];
    for (let i = 0; i < size; i += 1) members.push(await client(`G${size}-${i}`));
    const [creator, ...others] = members;
    const t0 = performance.now();
    const group = await creator.createGroup(`Group of ${size}`, others.map((m) => m.user.id));
    const created = performance.now() - t0;
    const problems = [];
    for (const m of others) m.on('problem', (p) => problems.push(p));
    try {
      await until(() => others.every((m) => m.hasGroup(group.id)), 60_000);
    } catch (e) {
      console.error(stack.logs().split('\n').filter((l) => /error|fail|panic/i.test(l)).slice(-20).join('\n'));
      throw new Error(`${others.filter((m) => m.hasGroup(group.id)).length} of ${others.length} joined; problems: ${JSON.stringify(problems.slice(0, 3))}`);
    }
    const allJoined = performance.now() - t0;
    results.groups[size] = { createdMs: created, allJoinedMs: allJoined };
    console.log(`# group of ${size}: creator ready in ${ms(created)}, all ${size} members joined in ${ms(allJoined)}`);
    for (const m of members) m.disconnect();
  }

  // Send → decrypt through the server, 1:1.
  {
    const [alice, bob] = [await client('Alice'), await client('Bob')];
    const conversation = await alice.openDirect(bob.user.id);
    await until(() => bob.hasGroup(conversation.id));
    const sentAt = new Map();
    const latencies = [];
    bob.on('message', (m) => latencies.push(performance.now() - sentAt.get(m.text)));
    for (let i = 0; i < 100; i += 1) {
      const text = `round trip ${i}`;
      sentAt.set(text, performance.now());
      await alice.sendText(conversation.id, text);
    }
    await until(() => latencies.length === 100, 30_000);
    latencies.sort((x, y) => x - y);
    results.sendToDecrypt = { p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
    console.log(`# 1:1 send→decrypted at the recipient (100, one at a time): p50 ${ms(results.sendToDecrypt.p50)}, p99 ${ms(results.sendToDecrypt.p99)}`);
  }
  // Linking a second browser to an account in `LINKED_CHATS` conversations: from the code shown,
  // through the approval on the first device, to the new device in every conversation.
  {
    const phone = await client('Phone');
    const partners = [];
    for (let i = 0; i < LINKED_CHATS; i += 1) partners.push(await client(`Partner ${i}`));
    const chats = [];
    for (const p of partners) chats.push((await phone.openDirect(p.user.id)).id);
    await until(() => partners.every((p, i) => p.hasGroup(chats[i])));
    const laptop = new ChatClient({ baseUrl: stack.baseUrl, storeName: `bench-${++storeCounter}`, deviceLabel: 'Laptop', keyPackageTarget: 2 });
    clients.push(laptop);
    const shown = new Promise((resolve) => laptop.on('link-code', resolve));
    const signedIn = laptop.login(phone.user.phone, 'correct horse battery');
    const { code } = await shown;
    const t0 = performance.now();
    await phone.approveLink(code);
    const approvedMs = performance.now() - t0;
    await signedIn;
    const linkedMs = performance.now() - t0;
    await until(() => chats.every((id) => laptop.hasGroup(id)));
    const joinedMs = performance.now() - t0;
    results.link = { approvedMs, linkedMs, joinedMs, chats: LINKED_CHATS };
    console.log(`# linking a browser (code typed → approved / signed in / in all ${LINKED_CHATS} chats): ${ms(approvedMs)} / ${ms(linkedMs)} / ${ms(joinedMs)}`);
  }
  console.log(JSON.stringify({ bench: 'e2e', at: new Date().toISOString(), ...results }));
} finally {
  for (const c of clients) c.disconnect();
  await stack.stop();
}
