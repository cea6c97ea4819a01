// What every SDK test file against the real Worker starts with: its own wrangler dev and
// PostgreSQL database (test/support/stack.mjs) for the file's tests, stopped after them, with the
// clients and sockets the tests made closed first.
import { before, after } from 'node:test';
import { startStack } from '../../test/support/stack.mjs';

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
