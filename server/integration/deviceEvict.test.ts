/**
 * A device evicted beyond the device limit loses its open sockets at once, on the
 * embedded store too (SPEC.md AUTH-4): the limit makes room by ending the device seen
 * longest ago, and an ended device must not keep deciding on a socket it opened before.
 * One in-process `serve` on SQLite (real HTTP and WebSocket); the other devices are
 * written into the same database file beside it.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig } from '../config.ts';
import { silentLogger } from '../log.ts';
import { type RunningServer, startServer } from '../server.ts';
import { MAX_DEVICES } from '../store/deviceStore.ts';
import { DB_FILE } from '../store/sqliteStore.ts';
import { connectAndJoin } from '../testing/index.ts';

describe('AUTH-4: an evicted device loses its sockets', () => {
  let server: RunningServer;
  let dataDir = '';
  const token = randomBytes(32).toString('base64url');

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'gh-evict-'));
    server = await startServer(testConfig({ dataDir, envToken: token }), { logger: silentLogger });
  });
  afterAll(async () => {
    await server?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  /** A new device through the pairing page: its cookie's secret. */
  const pair = async () => {
    const pairing = await fetch(`${server.baseUrl}/api/pairings`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    expect(pairing.status).toBe(201);
    const { code } = (await pairing.json()) as { code: string };
    const redeemed = await fetch(`${server.baseUrl}/pair/${code}`, { redirect: 'manual' });
    expect(redeemed.status).toBe(302);
    const secret = /=([^;]+)/.exec(redeemed.headers.get('set-cookie') ?? '')?.[1];
    if (!secret) throw new Error('no cookie');
    return secret;
  };

  it('AUTH-4: the device the limit evicts has its socket closed with 1008 and its push subscriptions removed, on SQLite too', async () => {
    const oldest = await pair();
    const { client } = await connectAndJoin(`ws://127.0.0.1:${server.port}/ws`, {
      headers: { cookie: `${server.cookieName}=${oldest}` },
      origin: `http://127.0.0.1:${server.port}`,
    });
    const mine = await fetch(`${server.baseUrl}/api/devices`, { headers: { cookie: `${server.cookieName}=${oldest}`, 'x-gatehouse-client': 'web' } });
    const oldestId = ((await mine.json()) as { devices: { id: string; current?: boolean }[] }).devices.find((d) => d.current)?.id;
    if (!oldestId) throw new Error('no current device');
    // The other devices, seen later than the first, in one transaction of the same file;
    // and a push subscription of the first, which must end with it.
    const db = new Database(join(dataDir, DB_FILE));
    const subscriptionsOf = (id: string) => (db.prepare('SELECT COUNT(*) AS n FROM push_subscriptions WHERE device_id = ?').get(id) as { n: number }).n;
    try {
      db.prepare('INSERT INTO push_subscriptions (endpoint, p256dh, auth, device_id, created_at) VALUES (?, ?, ?, ?, ?)').run(
        'https://push.example/evicted',
        'key',
        'auth',
        oldestId,
        Date.now(),
      );
      const insert = db.prepare('INSERT INTO devices (id, name, secret_hash, created_at, last_seen_at) VALUES (?, ?, ?, ?, ?)');
      const later = Date.now() + 60_000;
      db.transaction(() => {
        for (let i = 1; i < MAX_DEVICES; i++) insert.run(`filler-${i}`, `filler ${i}`, randomBytes(32).toString('hex'), later, later);
      })();
      // One more device: the one seen longest ago (the first) makes room. Its listeners
      // run after the pairing's commit, so the push store's delete does not wait for its
      // lock (it waited 5 s, then failed "database is locked").
      await pair();
      expect((await client.closed).code).toBe(1008);
      expect(subscriptionsOf(oldestId)).toBe(0);
    } finally {
      db.close();
    }
    const me = await fetch(`${server.baseUrl}/api/devices`, { headers: { cookie: `${server.cookieName}=${oldest}`, 'x-gatehouse-client': 'web' } });
    expect(me.status).toBe(401);
  });
});
