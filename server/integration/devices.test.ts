/**
 * Devices, the cookie rule and the `?token=` redirect (contract-2 §1, docs/security.md)
 * against the real server process: what a browser holds is a device session of its own,
 * revocable and durable, never something derived from the owner token.
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionCookieName } from '../security/token.ts';
import { connectClient, startServerProcess, type ServerProcess } from '../testing/index.ts';

const CHROMIUM_LINUX = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36';
const FIREFOX_ANDROID = 'Mozilla/5.0 (Android 14; Mobile; rv:140.0) Gecko/140.0 Firefox/140.0';

let server: ServerProcess;
beforeAll(async () => {
  server = await startServerProcess();
});
afterAll(async () => {
  await server?.stop();
});

/** A raw GET (fetch normalises paths such as `//x`, a browser's address bar may not). */
function rawGet(
  port: number,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers: { host: `127.0.0.1:${port}`, ...headers } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Open the page with `?token=` as a browser does; the device's cookie (`name=value`). */
async function openDevice(s: ServerProcess, userAgent = CHROMIUM_LINUX, token = s.token!): Promise<string> {
  const res = await fetch(`${s.baseUrl}/?token=${encodeURIComponent(token)}`, { redirect: 'manual', headers: { 'user-agent': userAgent } });
  expect(res.status).toBe(302);
  return res.headers.get('set-cookie')!.split(';')[0]!;
}

/** What the web app sends with its cookie. */
const web = (cookie: string) => ({ cookie, 'x-gatehouse-client': 'web' });

describe('devices', () => {
  it('AUTH-3: every browser gets its own random session, not derived from the owner token; the derived cookie of old is refused', async () => {
    const a = await openDevice(server);
    const b = await openDevice(server);
    expect(a).not.toBe(b);
    const value = a.split('=')[1] ?? '';
    expect(Buffer.from(value, 'base64url').length).toBeGreaterThanOrEqual(16);
    expect(value).not.toContain(server.token!);
    expect((await server.api('/api/permission-requests', { token: null, headers: web(a) })).status).toBe(200);
    expect((await server.api('/api/permission-requests', { token: null, headers: web(b) })).status).toBe(200);
    // The value the server derived from the token until now: it must not open anything.
    const derived = createHmac('sha256', server.token!).update('gatehouse-session-v1').digest('base64url');
    const old = await server.api('/api/permission-requests', { token: null, headers: web(`${sessionCookieName({ port: server.port })}=${derived}`) });
    expect(old.status).toBe(401);
    expect((await server.api('/api/permission-requests', { token: null, headers: web(`${sessionCookieName({ port: server.port })}=${value}x`) })).status).toBe(
      401,
    );
  });

  it('AUTH-3: the agent token or a wrong token on a page makes no device: 401, no cookie', async () => {
    const before = (await server.api('/api/devices')).body.devices.length;
    for (const token of [server.agentToken!, 'wrong-token', '']) {
      const res = await fetch(`${server.baseUrl}/?token=${encodeURIComponent(token)}`, { redirect: 'manual' });
      expect(res.status, token).toBe(401);
      expect(res.headers.get('set-cookie')).toBeNull();
      expect(res.headers.get('cache-control')).toBe('no-store');
    }
    expect((await server.api('/api/devices')).body.devices.length).toBe(before);
  });

  it('AUTH-3: the session is stored only as its SHA-256 hash', async () => {
    const cookie = await openDevice(server);
    const value = cookie.split('=')[1];
    const db = new Database(join(server.dataDir, 'gatehouse.db'), { readonly: true, fileMustExist: true });
    try {
      const dump = JSON.stringify(db.prepare('SELECT * FROM devices').all());
      expect(dump).not.toContain(value);
      const hash = (await import('node:crypto')).createHash('sha256').update(value!).digest('hex');
      expect(dump).toContain(hash);
    } finally {
      db.close();
    }
    // Nor anywhere else in the data directory's database files.
    for (const file of ['gatehouse.db', 'gatehouse.db-wal']) {
      let bytes = '';
      try {
        bytes = readFileSync(join(server.dataDir, file), 'latin1');
      } catch {
        continue;
      }
      expect(bytes.includes(value!), file).toBe(false);
    }
  });

  it('AUTH-4: GET /api/devices lists id, name from the User-Agent, times and `current`, never the secret or its hash', async () => {
    const cookie = await openDevice(server, FIREFOX_ANDROID);
    const value = cookie.split('=')[1];
    const res = await server.api('/api/devices', { token: null, headers: web(cookie) });
    expect(res.status).toBe(200);
    expect(res.text).not.toContain(value);
    expect(res.text).not.toMatch(/hash|secret/i);
    const mine = res.body.devices.filter((d: { current?: boolean }) => d.current);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ name: 'Firefox on Android', id: expect.stringMatching(/^dev-[0-9a-f]{16}$/) });
    expect(mine[0].createdAt).toBeGreaterThan(Date.now() - 60_000);
    expect(mine[0].lastSeenAt).toBeGreaterThanOrEqual(mine[0].createdAt);
    // With the owner token, no device is "current".
    const owner = await server.api('/api/devices');
    expect(owner.body.devices.some((d: { current?: boolean }) => d.current)).toBe(false);
    expect(owner.body.devices.map((d: { id: string }) => d.id)).toContain(mine[0].id);
    // The agent token may not see them.
    expect((await server.api('/api/devices', { token: server.agentToken })).status).toBe(403);
  });

  it('AUTH-5: a browser that pairs again replaces its earlier device: that device ends, and its open socket closes with 1008', async () => {
    const earlier = await openDevice(server);
    const origin = `http://127.0.0.1:${server.port}`;
    const client = await connectClient(server.wsUrl({}, { token: null }), { headers: { cookie: earlier }, origin });
    await client.waitFor((f) => f.type === 'welcome');
    const pairing = await server.api('/api/pairings', { method: 'POST' });
    expect(pairing.status).toBe(201);
    const redeemed = await fetch(`${server.baseUrl}/pair/${pairing.body.code}`, { redirect: 'manual', headers: { cookie: earlier } });
    expect(redeemed.status).toBe(302);
    expect((await client.closed).code).toBe(1008);
    expect((await server.api('/api/devices', { token: null, headers: web(earlier) })).status).toBe(401);
  });

  it('AUTH-5: DELETE /api/devices/ID ends a device: its cookie gets 401 at once and its open socket closes with 1008', async () => {
    const victim = await openDevice(server);
    const other = await openDevice(server);
    const origin = `http://127.0.0.1:${server.port}`;
    const client = await connectClient(server.wsUrl({}, { token: null }), { headers: { cookie: victim }, origin });
    const welcome = await client.waitFor((f) => f.type === 'welcome');
    const list = await server.api('/api/devices', { token: null, headers: web(victim) });
    const id = list.body.devices.find((d: { current?: boolean }) => d.current).id as string;
    expect(list.body.devices.find((d: { id: string }) => d.id === id).clients).toEqual([welcome.clientId]);
    // Another device may end it (so may the owner token).
    const revoked = await server.api(`/api/devices/${id}`, { method: 'DELETE', token: null, headers: web(other) });
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ id, revoked: true });
    expect((await client.closed).code).toBe(1008);
    expect((await server.api('/api/permission-requests', { token: null, headers: web(victim) })).status).toBe(401);
    expect((await server.api('/api/devices', { token: null, headers: web(victim) })).status).toBe(401);
    await expect(connectClient(server.wsUrl({}, { token: null }), { headers: { cookie: victim }, origin })).rejects.toMatchObject({ status: 401 });
    // The other device is untouched; a second delete is a 404.
    expect((await server.api('/api/permission-requests', { token: null, headers: web(other) })).status).toBe(200);
    const again = await server.api(`/api/devices/${id}`, { method: 'DELETE' });
    expect(again.status).toBe(404);
    expect(again.body.error.code).toBe('not-found');
  });

  it('AUTH-5: a device may end itself; the answer clears its cookie', async () => {
    const cookie = await openDevice(server);
    const me = (await server.api('/api/devices', { token: null, headers: web(cookie) })).body.devices.find((d: { current?: boolean }) => d.current);
    const res = await fetch(`${server.baseUrl}/api/devices/${me.id}`, { method: 'DELETE', headers: web(cookie) });
    expect(res.status).toBe(200);
    expect(res.headers.get('set-cookie')).toMatch(new RegExp(`^gatehouse_${server.port}=;.*Max-Age=0`, 'i'));
    expect((await server.api('/api/devices', { token: null, headers: web(cookie) })).status).toBe(401);
  });

  it('AUTH-3: opening the link again in a browser that is already a device keeps that device', async () => {
    const cookie = await openDevice(server);
    const before = (await server.api('/api/devices')).body.devices.length;
    const res = await fetch(`${server.baseUrl}/?token=${server.token}`, { redirect: 'manual', headers: { cookie } });
    expect(res.status).toBe(302);
    expect(res.headers.get('set-cookie')).toBeNull();
    expect((await server.api('/api/devices')).body.devices.length).toBe(before);
    // Nor does a HEAD, which link checkers send.
    const head = await fetch(`${server.baseUrl}/?token=${server.token}`, { method: 'HEAD', redirect: 'manual' });
    expect(head.status).toBe(302);
    expect(head.headers.get('set-cookie')).toBeNull();
    expect((await server.api('/api/devices')).body.devices.length).toBe(before);
  });
});

describe('decisions are audited with their device', () => {
  const create = async (command: string) =>
    (await server.api('/api/permission-requests', { method: 'POST', token: server.agentToken, json: { toolName: 'Bash', input: { command } } })).body
      .id as string;
  const auditOf = async (id: string) => (await server.api(`/api/audit?requestId=${id}`)).body.entries[0];

  it('AUTH-9: a decision over the WebSocket and over HTTP records the deciding device; one by the owner token records none', async () => {
    const cookie = await openDevice(server, FIREFOX_ANDROID);
    const me = (await server.api('/api/devices', { token: null, headers: web(cookie) })).body.devices.find((d: { current?: boolean }) => d.current);
    const client = await connectClient(server.wsUrl({}, { token: null }), { headers: { cookie }, origin: `http://127.0.0.1:${server.port}` });
    await client.waitFor((f) => f.type === 'welcome');
    const overWs = await create('echo ws');
    client.send({ type: 'permission-response', requestId: overWs, decision: 'allow', clientMsgId: 'audit-1' });
    await client.waitFor((f) => f.type === 'ack' && f.ref === 'audit-1');
    client.terminate();
    expect(await auditOf(overWs)).toMatchObject({ decision: 'allow', via: 'ws', deviceId: me.id, deviceName: 'Firefox on Android' });

    const overHttp = await create('echo http');
    const decided = await server.api(`/api/permission-requests/${overHttp}/decision`, {
      method: 'POST',
      token: null,
      headers: web(cookie),
      json: { decision: 'deny' },
    });
    expect(decided.status).toBe(200);
    expect(await auditOf(overHttp)).toMatchObject({ decision: 'deny', via: 'http', deviceId: me.id, deviceName: 'Firefox on Android' });

    const byToken = await create('echo token');
    expect((await server.api(`/api/permission-requests/${byToken}/decision`, { method: 'POST', json: { decision: 'allow' } })).status).toBe(200);
    const entry = await auditOf(byToken);
    expect(entry).toMatchObject({ decision: 'allow', via: 'http' });
    expect(entry.deviceId).toBeUndefined();
    // What did this device decide? (After a device is lost, the first question.)
    const byDevice = (await server.api(`/api/audit?deviceId=${me.id}`)).body.entries.map((e: { requestId: string }) => e.requestId);
    expect(byDevice).toEqual([overHttp, overWs]); // newest first (CORE-1)
  });

  it('AUTH-9: an audit database from before devices gains the columns and keeps its rows', { timeout: 40_000 }, async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-old-audit-'));
    const old = new Database(join(dataDir, 'agents.db'));
    old.exec(`CREATE TABLE audit (request_id TEXT PRIMARY KEY, tool_name TEXT NOT NULL, input TEXT NOT NULL, session_id TEXT, agent TEXT, cwd TEXT,
      requested_at INTEGER NOT NULL, status TEXT, decision TEXT, how TEXT, decided_by TEXT, via TEXT, address TEXT, message TEXT, rule_id TEXT, decided_at INTEGER)`);
    old
      .prepare(
        `INSERT INTO audit (request_id, tool_name, input, requested_at, status, decision, how, decided_by) VALUES ('old-1', 'Bash', '{"command":"ls"}', 1, 'resolved', 'allow', 'human', 'http')`,
      )
      .run();
    old.close();
    const s = await startServerProcess({ dataDir });
    try {
      expect((await s.api('/api/audit?requestId=old-1')).body.entries).toEqual([
        {
          requestId: 'old-1',
          toolName: 'Bash',
          input: { command: 'ls' },
          summary: 'ls',
          inputBytes: 16,
          requestedAt: 1,
          status: 'resolved',
          decision: 'allow',
          how: 'human',
          decidedBy: 'http',
        },
      ]);
      const cookie = await openDevice(s);
      const id = (await s.api('/api/permission-requests', { method: 'POST', json: { toolName: 'Bash', input: { command: 'ls' } } })).body.id;
      await s.api(`/api/permission-requests/${id}/decision`, { method: 'POST', token: null, headers: web(cookie), json: { decision: 'allow' } });
      expect((await s.api(`/api/audit?requestId=${id}`)).body.entries[0]).toMatchObject({ deviceName: 'Chrome on Linux' });
    } finally {
      await s.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('durable devices', () => {
  it('AUTH-4: a device survives a restart and kill -9 of the real server', async () => {
    const own = await startServerProcess();
    const dataDir = own.dataDir;
    const port = own.port;
    let s = own;
    try {
      const cookie = await openDevice(s);
      const before = (await s.api('/api/devices')).body.devices;
      await s.kill('SIGKILL');
      s = await startServerProcess({ dataDir, args: ['--port', String(port)] });
      expect((await s.api('/api/permission-requests', { token: null, headers: web(cookie) })).status).toBe(200);
      expect((await s.api('/api/devices')).body.devices).toEqual(before);
      await s.kill('SIGTERM');
      s = await startServerProcess({ dataDir, args: ['--port', String(port)] });
      expect((await s.api('/api/permission-requests', { token: null, headers: web(cookie) })).status).toBe(200);
    } finally {
      await s.stop();
      const { rmSync } = await import('node:fs');
      rmSync(dataDir, { recursive: true, force: true });
    }
    // Three server starts: on a loaded machine each can take several seconds.
  }, 60_000);
});

describe('the cookie rule', () => {
  it('AUTH-6: a request carrying only the cookie needs an allowed Origin, Sec-Fetch-Site: same-origin or X-Gatehouse-Client: web; else 403', async () => {
    const cookie = await openDevice(server);
    const bare = await server.api('/api/permission-requests', { token: null, headers: { cookie } });
    expect(bare.status).toBe(403);
    expect(bare.body.error.code).toBe('forbidden');
    expect(bare.body.error.message).toMatch(/X-Gatehouse-Client/);
    // What a page on another port of this host sends: same-site, not same-origin.
    expect((await server.api('/api/permission-requests', { token: null, headers: { cookie, 'sec-fetch-site': 'same-site' } })).status).toBe(403);
    expect((await server.api('/api/permission-requests', { token: null, headers: { cookie, 'sec-fetch-site': 'cross-site' } })).status).toBe(403);
    expect((await server.api('/api/permission-requests', { token: null, headers: { cookie, 'x-gatehouse-client': 'other' } })).status).toBe(403);
    expect((await server.api('/api/permission-requests', { token: null, headers: { cookie, origin: `http://localhost:${server.port + 1}` } })).status).toBe(
      403,
    );
    // The three ways through.
    expect((await server.api('/api/permission-requests', { token: null, headers: { cookie, 'x-gatehouse-client': 'web' } })).status).toBe(200);
    expect((await server.api('/api/permission-requests', { token: null, headers: { cookie, 'sec-fetch-site': 'same-origin' } })).status).toBe(200);
    expect((await server.api('/api/permission-requests', { token: null, headers: { cookie, origin: `http://127.0.0.1:${server.port}` } })).status).toBe(200);
    // A bearer token needs none of them; pages need no credential at all.
    expect((await server.api('/api/permission-requests', { headers: { cookie } })).status).toBe(200);
    expect((await fetch(`${server.baseUrl}/`)).status).toBe(200);
    // A decision (the worst case: a forged allow) is refused the same way.
    const created = await server.api('/api/permission-requests', {
      method: 'POST',
      token: server.agentToken,
      json: { toolName: 'Bash', input: { command: 'ls' } },
    });
    const forged = await server.api(`/api/permission-requests/${created.body.id}/decision`, {
      method: 'POST',
      token: null,
      headers: { cookie },
      json: { decision: 'allow' },
    });
    expect(forged.status).toBe(403);
    expect((await server.api(`/api/permission-requests/${created.body.id}`)).body.status).toBe('pending');
  });

  it('AUTH-6: the WebSocket upgrade with the cookie works from the own origin, and not without one', async () => {
    const cookie = await openDevice(server);
    const client = await connectClient(server.wsUrl({}, { token: null }), { headers: { cookie }, origin: `http://localhost:${server.port}` });
    expect((await client.waitFor((f) => f.type === 'welcome')).clientId).toMatch(/^browser-/);
    client.terminate();
    await expect(connectClient(server.wsUrl({}, { token: null }), { headers: { cookie } })).rejects.toMatchObject({ status: 403 });
  });

  it('AUTH-7: a CORS preflight is refused and no response ever carries Access-Control-Allow-*', async () => {
    for (const origin of [`http://127.0.0.1:${server.port}`, 'http://evil.example']) {
      const res = await fetch(`${server.baseUrl}/api/permission-requests`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-gatehouse-client' },
      });
      expect(res.status, origin).toBe(403);
      for (const name of res.headers.keys()) expect(name).not.toMatch(/^access-control-allow/);
    }
    const cookie = await openDevice(server);
    const ok = await fetch(`${server.baseUrl}/api/permission-requests`, { headers: { ...web(cookie), origin: `http://127.0.0.1:${server.port}` } });
    expect(ok.status).toBe(200);
    for (const name of ok.headers.keys()) expect(name).not.toMatch(/^access-control-allow/);
  });
});

describe('pairing', () => {
  it('AUTH-10: POST /api/pairings gives a one-time link to this server; it makes a device once, then answers 410', async () => {
    const made = await server.api('/api/pairings', { method: 'POST' });
    expect(made.status).toBe(201);
    expect(made.body.url).toBe(`http://127.0.0.1:${server.port}/pair/${made.body.code}`);
    expect(made.body.expiresAt).toBeGreaterThan(Date.now() + 9 * 60_000);
    expect(made.body.expiresAt).toBeLessThanOrEqual(Date.now() + 10 * 60_000);
    const opened = await fetch(made.body.url, { redirect: 'manual', headers: { 'user-agent': FIREFOX_ANDROID } });
    expect(opened.status).toBe(302);
    expect(opened.headers.get('location')).toBe('/');
    const cookie = opened.headers.get('set-cookie')!.split(';')[0]!;
    const mine = (await server.api('/api/devices', { token: null, headers: web(cookie!) })).body.devices.find((d: { current?: boolean }) => d.current);
    expect(mine.name).toBe('Firefox on Android');
    const again = await fetch(made.body.url, { redirect: 'manual' });
    expect(again.status).toBe(410);
    expect(again.headers.get('set-cookie')).toBeNull();
    expect((await server.api('/api/pairings', { method: 'POST', token: server.agentToken })).status).toBe(403);
  });
});

describe('the ?token= redirect', () => {
  it('AUTH-8: the redirect carries Cache-Control: no-store and keeps the path and other parameters', async () => {
    const res = await fetch(`${server.baseUrl}/history?token=${server.token}&view=queue`, { redirect: 'manual' });
    expect(res.status).toBe(302);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('location')).toBe('/history?view=queue');
  });

  it('AUTH-8: a path a browser would read as another origin never becomes a Location', async () => {
    for (const path of ['//evil.example/', '//evil.example', '///evil.example/x', '//evil.example/%2e%2e/']) {
      const res = await rawGet(server.port, `${path}?token=${server.token}&view=queue`);
      expect(res.status, path).toBe(302);
      expect(res.headers.location, path).toBe('/?view=queue');
      expect(res.headers['cache-control'], path).toBe('no-store');
    }
    // A backslash in the request target is refused before any route (and the rule would
    // map it to `/` too: see safeRedirectPath's test).
    for (const path of ['/\\evil.example/', '/\\/evil.example/']) {
      const res = await rawGet(server.port, `${path}?token=${server.token}`);
      expect(res.status, path).toBe(400);
      expect(res.headers.location, path).toBeUndefined();
      expect(res.headers['set-cookie'], path).toBeUndefined();
    }
    // A path that merely contains slashes later stays as it is.
    const deep = await rawGet(server.port, `/a//b?token=${server.token}`);
    expect(deep.headers.location).toBe('/a//b');
  });
});
