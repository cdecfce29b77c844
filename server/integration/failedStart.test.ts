/**
 * A start that fails closes what it opened (SPEC.md OPS-10): `startServer` on a port in
 * use rejects naming it, and the store, the bus connection, the shared state, the host
 * and the plugins it opened before `listen` are closed, so a `serve` wrapper or a test
 * process holds none of them. On PostgreSQL the writer lease is released: the next start
 * on the same database serves at once instead of being refused. Real sockets, real
 * SQLite and PostgreSQL, in-process `startServer`.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import createAgentsPlugin from '../agents/plugin.ts';
import { testConfig } from '../config.ts';
import { silentLogger } from '../log.ts';
import { startServer } from '../server.ts';
import { createTestDatabase, requirePostgres } from '../store/testing/postgres.ts';

const reachable = await requirePostgres('the failed-start test on PostgreSQL');
const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-failed-start-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A port held by a plain TCP listener. */
async function busyPort(): Promise<number> {
  const holder: Server = createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => holder.close(resolve)));
  const address = holder.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** The SQLite files of `dir` with a write-ahead log: a WAL database keeps its `-wal` file
 *  while a connection is open and removes it when the last one closes. */
function openDatabases(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('-wal'))
    .sort();
}

describe('a start that fails (OPS-10)', () => {
  it('OPS-10: a port in use rejects naming it and closes the databases it opened (SQLite)', async () => {
    const port = await busyPort();
    const dataDir = tempDir();
    await expect(
      startServer(testConfig({ dataDir, port, host: '127.0.0.1', auth: false }), { logger: silentLogger, plugins: [createAgentsPlugin] }),
    ).rejects.toThrow(`port ${port} on 127.0.0.1 is in use`);
    // The event database and agents.db were opened (and their WAL files made), then closed.
    expect(openDatabases(dataDir)).toEqual([]);
    // The same data directory serves at once on a free port.
    const next = await startServer(testConfig({ dataDir, host: '127.0.0.1', auth: false }), { logger: silentLogger, plugins: [createAgentsPlugin] });
    await next.stop();
  });

  it.skipIf(!reachable)('OPS-10: on PostgreSQL the pool and the writer lease are released: the next start on the database serves', async () => {
    const database = await createTestDatabase();
    cleanups.push(() => database.drop());
    const port = await busyPort();
    const store = { kind: 'postgres' as const, url: database.url };
    await expect(startServer(testConfig({ dataDir: tempDir(), port, host: '127.0.0.1', auth: false, store }), { logger: silentLogger })).rejects.toThrow(
      `port ${port} on 127.0.0.1 is in use`,
    );
    const next = await startServer(testConfig({ dataDir: tempDir(), host: '127.0.0.1', auth: false, store }), { logger: silentLogger });
    expect(next.storeKind).toBe('postgres');
    await next.stop();
  });
});
