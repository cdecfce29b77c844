/**
 * The shared state through real servers (contract-2 §6, SPEC.md TEAM-S): two `serve`
 * instances (in-process, real HTTP and WebSocket) on one PostgreSQL database. A device
 * paired on A opens B, ended on A its socket on B closes; both sign pushes with one key;
 * history is served on PostgreSQL; "Always allow" makes a rule on PostgreSQL that decides
 * later requests and that B lists.
 *
 * Both run with the bus (`--bus`), as several instances on one database must.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import createAgentsPlugin from '../agents/plugin.ts';
import { testConfig } from '../config.ts';
import { silentLogger } from '../log.ts';
import { VAPID_FILE } from '../push/vapid.ts';
import { type RunningServer, startServer } from '../server.ts';
import { requireNats, TEST_NATS_URL } from '../bus/testing/nats.ts';
import { createTestDatabase, requirePostgres } from '../store/testing/postgres.ts';
import { connectClient } from '../testing/wsClient.ts';

const reachable = (await requirePostgres('the shared-state server suite')) && (await requireNats('the shared-state server suite'));

type Api = (
  server: RunningServer,
  path: string,
  init?: { method?: string; json?: unknown; headers?: Record<string, string>; token?: string | null },
) => Promise<{ status: number; body: any; headers: Headers }>;

const api: Api = async (server, path, init = {}) => {
  const token = init.token === undefined ? server.token : init.token;
  const res = await fetch(`${server.baseUrl}${path}`, {
    method: init.method ?? 'GET',
    redirect: 'manual',
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(init.json !== undefined ? { 'content-type': 'application/json' } : {}),
      ...init.headers,
    },
    ...(init.json !== undefined ? { body: JSON.stringify(init.json) } : {}),
  });
  const text = await res.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body, headers: res.headers };
};

/** A device's cookie as the browser sends it to `server` (with a bus, one name for every instance). */
const cookieFor = (server: RunningServer, secret: string) => ({ cookie: `${server.cookieName}=${secret}`, 'x-gatehouse-client': 'web' });

describe.skipIf(!reachable)('TEAM-S: two instances on one PostgreSQL store share devices, pairing, push keys, rules and history', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let a: RunningServer;
  let b: RunningServer;
  const dirs: string[] = [];
  const WATCH_MS = 100;

  beforeAll(async () => {
    database = await createTestDatabase();
    const token = randomBytes(32).toString('base64url');
    const agentToken = randomBytes(32).toString('base64url');
    const start = () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'gh-shared-srv-'));
      dirs.push(dataDir);
      const base = testConfig();
      const config = testConfig({
        dataDir,
        store: { kind: 'postgres', url: database.url },
        bus: TEST_NATS_URL,
        envToken: token,
        envAgentToken: agentToken,
        agent: 'demo',
        push: { ...base.push, allowedOrigins: ['https://push.example'] },
      });
      return startServer(config, { logger: silentLogger, plugins: [createAgentsPlugin], deviceWatchMs: WATCH_MS });
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

  it('TEAM-S1: a device paired on A opens B (HTTP and WebSocket); ended on A, its cookie gets 401 on B at once and its socket on B closes with 1008 within the watch interval', async () => {
    const pairing = await api(a, '/api/pairings', { method: 'POST' });
    expect(pairing.status).toBe(201);
    const redeemed = await fetch(`${a.baseUrl}/pair/${pairing.body.code}`, {
      redirect: 'manual',
      headers: { 'user-agent': 'Mozilla/5.0 (Android 14; Mobile; rv:140.0) Gecko/140.0 Firefox/140.0' },
    });
    expect(redeemed.status).toBe(302);
    const secret = /=([^;]+)/.exec(redeemed.headers.get('set-cookie') ?? '')?.[1];
    expect(secret).toBeDefined();
    // The code is spent for every instance.
    expect((await fetch(`${b.baseUrl}/pair/${pairing.body.code}`, { redirect: 'manual' })).status).toBe(410);

    const onB = await api(b, '/api/devices', { token: null, headers: cookieFor(b, secret!) });
    expect(onB.status).toBe(200);
    const me = onB.body.devices.find((d: { current?: boolean }) => d.current);
    expect(me).toMatchObject({ name: 'Firefox on Android' });

    const origin = `http://127.0.0.1:${b.port}`;
    const client = await connectClient(`ws://127.0.0.1:${b.port}/ws`, { headers: { cookie: cookieFor(b, secret!).cookie }, origin });
    await client.waitFor((f) => f.type === 'welcome');

    const ended = await api(a, `/api/devices/${me.id}`, { method: 'DELETE' });
    expect(ended.status).toBe(200);
    expect((await api(b, '/api/devices', { token: null, headers: cookieFor(b, secret!) })).status).toBe(401);
    const closed = await client.closed;
    expect(closed.code).toBe(1008);
  });

  it('TEAM-G2: the instances listen on different ports and name the session cookie alike: the cookie A sets, sent as the browser sends it, opens B', async () => {
    expect(a.port).not.toBe(b.port);
    const pairing = await api(a, '/api/pairings', { method: 'POST' });
    const redeemed = await fetch(`${a.baseUrl}/pair/${pairing.body.code}`, { redirect: 'manual' });
    expect(redeemed.status).toBe(302);
    // The browser sends back `name=value`, whatever the port (cookies ignore ports).
    const cookie = (redeemed.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    expect(cookie).toMatch(/^gatehouse_\w+=.+/);
    expect(cookie.startsWith(`gatehouse_${a.port}=`)).toBe(false);
    const onB = await api(b, '/api/devices', { token: null, headers: { cookie, 'x-gatehouse-client': 'web' } });
    expect(onB.status).toBe(200);
    expect(onB.body.devices.some((d: { current?: boolean }) => d.current)).toBe(true);
  });

  it('TEAM-S3: both instances hand out one VAPID public key, from the store (no vapid.json in either data directory)', async () => {
    const keyA = await api(a, '/api/push/key');
    const keyB = await api(b, '/api/push/key');
    expect(keyA.body.publicKey).toMatch(/^[A-Za-z0-9_-]{87}$/);
    expect(keyB.body.publicKey).toBe(keyA.body.publicKey);
    for (const server of [a, b]) expect(existsSync(join(server.config.dataDir, VAPID_FILE))).toBe(false);
  });

  it('TEAM-S2: a push subscription made through A is in the store B pushes from', async () => {
    const endpoint = `https://push.example/${randomBytes(8).toString('hex')}`;
    // The key must be a point on P-256: the server's own public key is one.
    const keys = { p256dh: (await api(a, '/api/push/key')).body.publicKey as string, auth: 'A'.repeat(22) };
    const made = await api(a, '/api/push/subscriptions', { method: 'POST', json: { endpoint, expirationTime: null, keys } });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    expect((await b.push.store.get(endpoint))?.keys).toEqual(keys);
  });

  it('TEAM-S4 TEAM-S5: on PostgreSQL "Always allow" makes a rule that decides the next equal request; B lists it; history is served on both', async () => {
    const ask = async () => {
      const created = await api(a, '/api/permission-requests', {
        method: 'POST',
        json: { toolName: 'Bash', input: { command: 'git status' }, context: { agent: 'test' } },
      });
      expect(created.status).toBe(201);
      return created.body.id as string;
    };
    const first = await ask();
    const decided = await api(a, `/api/permission-requests/${first}/decision`, { method: 'POST', json: { decision: 'allow', remember: { scope: 'global' } } });
    expect(decided.status).toBe(200);
    expect(decided.body.remember).toMatchObject({ created: true, rule: { toolName: 'Bash', pattern: 'git status', kind: 'bash-exact' } });
    const ruleId = decided.body.remember.rule.id as string;

    const second = await ask();
    const view = await api(a, `/api/permission-requests/${second}?wait=10`);
    expect(view.body).toMatchObject({ status: 'resolved', decision: 'allow', decidedBy: `rule:${ruleId}` });

    const listed = await api(b, '/api/rules');
    expect(listed.body.rules.map((r: { id: string }) => r.id)).toEqual([ruleId]);

    for (const server of [a, b]) {
      const history = await api(server, '/api/history');
      expect(history.status).toBe(200);
      expect(history.body.requests.map((r: { id: string }) => r.id)).toEqual([second, first]);
    }
    const page = await api(b, `/api/history?limit=1&before=${second}`);
    expect(page.body.requests.map((r: { id: string }) => r.id)).toEqual([first]);
  });
  /** A new Bash request on `server` (over HTTP, owner token); its id. */
  const askOn = async (server: RunningServer, command: string) => {
    const created = await api(server, '/api/permission-requests', {
      method: 'POST',
      json: { toolName: 'Bash', input: { command }, context: { agent: 'test' } },
    });
    expect(created.status).toBe(201);
    return created.body.id as string;
  };

  /** A connection of the test's own to the shared database. */
  const sql = async () => {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    return client;
  };

  it('TEAM-G1: on PostgreSQL "Always allow" answers `created` only once its rule is stored: while the write waits on a lock the answer waits too', async () => {
    const id = await askOn(a, 'git log');
    const locker = await sql();
    const watcher = await sql();
    try {
      // Hold the version row the rule's write updates in its transaction: the write blocks.
      await locker.query('BEGIN');
      await locker.query('UPDATE rules_version SET version = version');
      let answered = false;
      const decision = api(a, `/api/permission-requests/${id}/decision`, { method: 'POST', json: { decision: 'allow', remember: { scope: 'global' } } }).then(
        (res) => {
          answered = true;
          return res;
        },
      );
      // The write is blocked once a backend of this database waits for the lock.
      const waiting = async () => {
        for (;;) {
          const { rows } = await watcher.query<{ n: number }>(
            "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
          );
          if ((rows[0]?.n ?? 0) > 0 || answered) return;
        }
      };
      await waiting();
      expect(answered, 'the answer came while the rule was not stored').toBe(false);
      await locker.query('COMMIT');
      const decided = await decision;
      expect(decided.status).toBe(200);
      expect(decided.body.remember).toMatchObject({ created: true, rule: { pattern: 'git log' } });
      const stored = await watcher.query('SELECT id FROM rules WHERE id = $1 AND revoked_at IS NULL', [decided.body.remember.rule.id]);
      expect(stored.rowCount).toBe(1);
    } finally {
      await locker.query('ROLLBACK').catch(() => {});
      await locker.end();
      await watcher.end();
    }
  });

  it('TEAM-G1: a remembered rule whose write fails is answered `created: false` and is in force on no instance', async () => {
    const id = await askOn(a, 'git diff');
    const admin = await sql();
    try {
      await admin.query('ALTER TABLE rules ADD CONSTRAINT gh_test_refuse CHECK (false) NOT VALID');
      const decided = await api(a, `/api/permission-requests/${id}/decision`, { method: 'POST', json: { decision: 'allow', remember: { scope: 'global' } } });
      // The decision stands; the rule is not made, and the answer says so.
      expect(decided.status).toBe(200);
      expect(decided.body.remember).toMatchObject({ created: false, reason: expect.stringContaining('could not be stored') });
      expect((await api(a, `/api/permission-requests/${id}`)).body).toMatchObject({ status: 'resolved', decision: 'allow' });
      for (const server of [a, b]) {
        const listed = await api(server, '/api/rules');
        expect(listed.body.rules.map((r: { pattern: string }) => r.pattern)).not.toContain('git diff');
      }
    } finally {
      await admin.query('ALTER TABLE rules DROP CONSTRAINT IF EXISTS gh_test_refuse');
      await admin.end();
    }
  });
});
