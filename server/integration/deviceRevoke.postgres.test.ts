/**
 * A device ended on one instance, seen from another one's open socket (docs/cluster.md,
 * "Revocation"; SPEC.md TEAM-S6, TEAM-S7): two `serve` instances (in-process, real HTTP
 * and WebSocket) on one new PostgreSQL database and the real NATS bus. The device watch's
 * poll is set to 60 s, so only the bus notice can close B's socket in time (TEAM-S6), and
 * with B's socket closing switched off, only the device gate can refuse its decision
 * (TEAM-S7).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { requireNats, TEST_NATS_URL } from '../bus/testing/nats.ts';
import { testConfig } from '../config.ts';
import { silentLogger } from '../log.ts';
import { type RunningServer, startServer } from '../server.ts';
import { createTestDatabase, requirePostgres } from '../store/testing/postgres.ts';
import { connectAndJoin } from '../testing/index.ts';

const reachable = (await requirePostgres('the device revocation suite')) && (await requireNats('the device revocation suite'));

/** Far beyond every wait below: a socket closed in time was closed by the notice. */
const POLL_MS = 60_000;

describe.skipIf(!reachable)('TEAM-S6 TEAM-S7: a device ended on A loses its socket on B at once, and B accepts no decision from it', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let a: RunningServer;
  let b: RunningServer;
  const dirs: string[] = [];
  const token = randomBytes(32).toString('base64url');
  const agentToken = randomBytes(32).toString('base64url');

  beforeAll(async () => {
    database = await createTestDatabase();
    const start = () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'gh-revoke-'));
      dirs.push(dataDir);
      const config = testConfig({ dataDir, store: { kind: 'postgres', url: database.url }, bus: TEST_NATS_URL, envToken: token, envAgentToken: agentToken });
      return startServer(config, { logger: silentLogger, deviceWatchMs: POLL_MS });
    };
    a = await start();
    b = await start();
  });

  afterAll(async () => {
    await b?.stop();
    await a?.stop();
    await database?.drop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  const api = async (server: RunningServer, path: string, init: { method?: string; json?: unknown; bearer?: string } = {}) => {
    const res = await fetch(`${server.baseUrl}${path}`, {
      method: init.method ?? 'GET',
      redirect: 'manual',
      headers: { authorization: `Bearer ${init.bearer ?? token}`, ...(init.json !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(init.json !== undefined ? { body: JSON.stringify(init.json) } : {}),
    });
    return { status: res.status, body: (await res.json()) as any };
  };

  /** A new device, paired through A: its id and its cookie's secret. */
  const pairOnA = async () => {
    const pairing = await api(a, '/api/pairings', { method: 'POST' });
    expect(pairing.status).toBe(201);
    const redeemed = await fetch(`${a.baseUrl}/pair/${pairing.body.code}`, { redirect: 'manual' });
    expect(redeemed.status).toBe(302);
    const secret = /=([^;]+)/.exec(redeemed.headers.get('set-cookie') ?? '')?.[1];
    expect(secret).toBeDefined();
    const me = await fetch(`${a.baseUrl}/api/devices`, { headers: { cookie: `${a.cookieName}=${secret}`, 'x-gatehouse-client': 'web' } });
    const id = ((await me.json()) as any).devices.find((d: { current?: boolean }) => d.current).id as string;
    return { id, secret: secret! };
  };

  /** A socket on B opened by the device's cookie (a browser: with an Origin). */
  const deviceSocketOnB = (secret: string) =>
    connectAndJoin(`ws://127.0.0.1:${b.port}/ws`, { headers: { cookie: `${b.cookieName}=${secret}` }, origin: `http://127.0.0.1:${b.port}` });

  const create = async (command: string) => {
    const made = await api(a, '/api/permission-requests', { method: 'POST', json: { toolName: 'Bash', input: { command } }, bearer: agentToken });
    expect(made.status).toBe(201);
    return made.body.id as string;
  };

  it('TEAM-S6: revoked on A, the device’s socket on B closes with 1008 on the bus notice, long before the poll (60 s)', async () => {
    const device = await pairOnA();
    const { client } = await deviceSocketOnB(device.secret);
    const started = Date.now();
    expect((await api(a, `/api/devices/${device.id}`, { method: 'DELETE' })).status).toBe(200);
    const closed = await client.closed;
    expect(closed.code).toBe(1008);
    // The poll would take 60 s; the test's own timeout is 20 s.
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(b.hub.clientsOf(device.id)).toEqual([]);
  });

  it('TEAM-S7: a decision on B’s socket of a device revoked on A (the socket not closed yet) is refused and the request stays pending; live devices and owner sockets decide', async () => {
    const device = await pairOnA();
    const { client } = await deviceSocketOnB(device.secret);
    const owner = await connectAndJoin(`ws://127.0.0.1:${b.port}/ws?token=${encodeURIComponent(token)}`);
    try {
      // While the device lives, its decisions pass the gate.
      const first = await create('make first');
      await client.waitFor((f) => f.type === 'permission-request' && f.id === first, { timeoutMs: 10_000 });
      client.send({ type: 'permission-response', requestId: first, decision: 'allow', clientMsgId: 's7-live' });
      expect(await client.waitFor((f) => f.type === 'ack' && f.ref === 's7-live')).toMatchObject({ status: 'accepted', requestId: first });

      const second = await create('make second');
      await client.waitFor((f) => f.type === 'permission-request' && f.id === second, { timeoutMs: 10_000 });
      // The window: B has not closed the socket yet (neither the notice nor the poll may).
      const closing = vi.spyOn(b.hub, 'closeDevice').mockReturnValue(0);
      try {
        expect((await api(a, `/api/devices/${device.id}`, { method: 'DELETE' })).status).toBe(200);
        client.send({ type: 'permission-response', requestId: second, decision: 'allow', clientMsgId: 's7-revoked' });
        const refused = await client.waitFor((f) => f.ref === 's7-revoked');
        expect(refused).toMatchObject({ type: 'error', code: 'unauthorized', requestId: second });
        expect(closing).toHaveBeenCalledWith(device.id);
      } finally {
        closing.mockRestore();
      }
      for (const server of [a, b]) expect((await api(server, `/api/permission-requests/${second}`)).body).toMatchObject({ id: second, status: 'pending' });

      // An owner-token socket on B is not gated and decides it.
      owner.client.send({ type: 'permission-response', requestId: second, decision: 'deny', clientMsgId: 's7-owner' });
      expect(await owner.client.waitFor((f) => f.type === 'ack' && f.ref === 's7-owner')).toMatchObject({ status: 'accepted' });
      expect((await api(a, `/api/permission-requests/${second}`)).body).toMatchObject({ status: 'resolved', decision: 'deny' });
    } finally {
      client.terminate();
      owner.client.terminate();
    }
  });
});
