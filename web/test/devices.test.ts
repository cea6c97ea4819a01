// Removing a device removes it from every conversation: real Worker under wrangler dev, real
// PostgreSQL, real MLS. Its leaves must leave every group it was in even when its owner has no
// other device online to commit that, and it must not read anything sent after.
import 'fake-indexeddb/auto';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileStack, loginLinked } from './harness.ts';
import { randomPhone } from '../../test/support/api.mjs';
import { waitFor } from '../../test/support/wait.mjs';
import { ChatClient } from '../sdk/client.ts';
import { Store } from '../sdk/store.ts';
import { decodeState, decrypt, fromBase64, leaves, processCommit } from '../sdk/mls.ts';
import type { AuthenticationService, ClientState } from 'ts-mls';

const PASSWORD = 'correct horse battery';
const file = fileStack();
const { clients } = file;

let storeCounter = 0;
type Device = ChatClient & { storeName: string; phone: string };
async function newDevice(name: string, phone = randomPhone(), login: boolean | ChatClient = false): Promise<Device> {
  const storeName = `${name}-${++storeCounter}`;
  const client = new ChatClient({ baseUrl: file.stack.baseUrl, storeName, deviceLabel: name, keyPackageTarget: 6 });
  if (typeof login === 'object') await loginLinked(client, phone, PASSWORD, login);
  else if (login) await client.login(phone, PASSWORD);
  else await client.register(phone, name, PASSWORD);
  clients.push(client);
  return Object.assign(client, { storeName, phone });
}

/** The group as a device has stored it (what a stolen or kept copy of the device holds). */
async function storedGroup(device: Device, conversationId: string): Promise<ClientState> {
  const store = await Store.open(device.storeName);
  try {
    return decodeState((await store.group(conversationId))!.state);
  } finally {
    store.close();
  }
}

/** The device ids whose leaves are in a device's copy of the group. */
async function deviceIdsIn(device: Device, conversationId: string): Promise<string[]> {
  return leaves(await storedGroup(device, conversationId)).map((l) => l.deviceId);
}

// The removed device's own view: it trusts whatever it is given, so what stops it from reading
// is the cryptography, not a check of its own.
const trustAnything: AuthenticationService = { validateCredential: async () => true };

test('a removed device leaves every group it was in, even with no other device of its owner online, and reads nothing after', async () => {
  const alice = await newDevice('Alice');
  const carol = await newDevice('Carol');
  const phone = await newDevice('Bob phone');
  const direct = await alice.openDirect(phone.user!.id);
  const group = await alice.createGroup('Weekend', [phone.user!.id, carol.user!.id]);
  await waitFor(() => phone.hasGroup(direct.id) && phone.hasGroup(group.id) && carol.hasGroup(group.id), { what: 'everyone to join' });

  // Bob sets up a laptop; his phone adds it to both conversations.
  const laptop = await newDevice('Bob laptop', phone.phone, phone);
  await waitFor(async () => laptop.hasGroup(direct.id) && laptop.hasGroup(group.id), { timeoutMs: 20_000, what: 'the laptop to join both' });
  for (const [member, conversation] of [[alice, direct], [alice, group], [carol, group]] as const) {
    await waitFor(async () => (await deviceIdsIn(member, conversation.id)).includes(laptop.deviceId), { what: 'the laptop in every copy' });
  }
  const kept = { direct: await storedGroup(laptop, direct.id), group: await storedGroup(laptop, group.id) };

  // The laptop is lost. Bob removes it from his phone and closes the phone at once: no device of
  // his is online to take the laptop out of the groups.
  phone.disconnect();
  laptop.disconnect();
  await phone.api.deleteDevice(laptop.deviceId, PASSWORD);

  // Alice and Carol hear of it and take the laptop's leaves out of both conversations.
  for (const [member, conversation] of [[alice, direct], [alice, group], [carol, group]] as const) {
    await waitFor(async () => !(await deviceIdsIn(member, conversation.id)).includes(laptop.deviceId), {
      timeoutMs: 15_000, what: `the laptop's leaf to leave ${member === alice ? 'Alice' : 'Carol'}'s copy of ${conversation.id}`,
    });
  }

  // What is sent afterwards cannot be read with the laptop's keys, before or after it applies
  // the commit that removed it (if it can apply it at all).
  await alice.sendText(direct.id, 'after the laptop was removed');
  await alice.sendText(group.id, 'the group, after the laptop was removed');
  for (const [conversationId, state] of [[direct.id, kept.direct], [group.id, kept.group]] as const) {
    const { items } = await alice.api.messages(conversationId, { limit: 20 });
    const after = items.filter((m) => m.kind === 'app' && m.epoch > Number(state.groupContext.epoch));
    assert.ok(after.length > 0, 'a message in a later epoch');
    let laptopState: ClientState = state;
    for (const commit of items.filter((m) => m.kind === 'commit' && m.epoch >= Number(state.groupContext.epoch)).reverse()) {
      try {
        laptopState = await processCommit(laptopState, fromBase64(commit.ciphertext), trustAnything, async () => {});
      } catch {
        break; // a removed member cannot follow the group past the commit that removed it
      }
    }
    for (const message of after) {
      await assert.rejects(decrypt(laptopState, fromBase64(message.ciphertext), trustAnything), `the laptop cannot read seq ${message.seq}`);
    }
  }

  // Bob's phone comes back to groups without the laptop, and reads on.
  phone.connect();
  await waitFor(async () => (await phone.history(direct.id)).some((m) => m.text === 'after the laptop was removed'), { what: 'the phone to read on' });
  await waitFor(async () => !(await deviceIdsIn(phone, group.id)).includes(laptop.deviceId), { what: 'the phone to apply the laptop\'s removal from the group' });
});
