// What every SDK test file against the real Worker starts with: its own wrangler dev and
// PostgreSQL database (test/support/stack.mjs) for the file's tests, stopped after them, with the
// clients and sockets the tests made closed first.
import { before, after } from 'node:test';
import { startStack } from '../../test/support/stack.mjs';
import { waitFor } from '../../test/support/wait.mjs';
import type { ChatClient, LinkPrompt, LocalMessage } from '../sdk/client.ts';

type Stack = Awaited<ReturnType<typeof startStack>>;

export interface FileStack {
  /** Set before the first test runs. */
  stack: Stack;
  /** Disconnected after the last test. */
  clients: { disconnect(): void }[];
  /** Closed after the last test (plain sockets a test opened). */
  sockets: { close(): Promise<unknown> }[];
}

export function fileStack(): FileStack {
  const file: FileStack = { stack: undefined as unknown as Stack, clients: [], sockets: [] };
  before(async () => {
    file.stack = await startStack();
  });
  after(async () => {
    for (const c of file.clients) c.disconnect();
    for (const s of file.sockets) await s.close();
    await file.stack?.stop();
  });
  return file;
}

/**
 * Logs `client` in on an account that has a device, as a person linking a new browser does: the
 * code the new browser shows is typed on `approver`, one of the account's devices.
 */
export async function loginLinked(client: ChatClient, phone: string, password: string, approver: ChatClient): Promise<void> {
  let off = () => {};
  const prompt = new Promise<LinkPrompt>((resolve) => { off = client.on('link-code', resolve); });
  const signedIn = client.login(phone, password);
  const shown = await Promise.race([prompt, signedIn.then(() => null)]);
  off();
  if (!shown) throw new Error('The login finished without asking to be linked.');
  await approver.approveLink(shown.code);
  await signedIn;
}

/**
 * Resolves with the first decrypted message with this text that `client` gets from someone else
 * from now on (its own sends are messages too).
 */
export async function received(client: ChatClient, text: string, timeoutMs = 15_000): Promise<LocalMessage> {
  let match: LocalMessage | undefined;
  const off = client.on('message', (m) => { if (!match && m.text === text && m.senderId !== client.user?.id) match = m; });
  try {
    return await waitFor(() => match, { timeoutMs, what: `${client.user?.displayName} to get ${JSON.stringify(text)}` });
  } finally {
    off();
  }
}

/** Fails if any text or bytes column of the database holds any of `texts` (the plaintexts a test
 * file sent): the server is to keep ciphertext only. */
export async function assertNoPlaintext(pool: Stack['pool'], texts: string[]): Promise<void> {
  const { rows: columns } = await pool.query(
    `SELECT table_name, column_name, data_type FROM information_schema.columns
     WHERE table_schema = 'public' AND data_type IN ('text', 'bytea', 'jsonb', 'character varying')`,
  );
  if (!columns.some((c: { table_name: string }) => c.table_name === 'messages')) throw new Error('no messages table to look in');
  for (const { table_name: table, column_name: column, data_type: type } of columns) {
    const expr = type === 'bytea' ? `position(convert_to($1, 'UTF8') in "${column}") > 0` : `strpos("${column}"::text, $1) > 0`;
    for (const text of texts) {
      const { rows } = await pool.query(`SELECT count(*)::int AS n FROM "${table}" WHERE ${expr}`, [text]);
      if (rows[0].n !== 0) throw new Error(`${table}.${column} holds a plaintext: ${JSON.stringify(text)}`);
    }
  }
}
