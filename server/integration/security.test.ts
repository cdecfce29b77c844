/**
 * Who may connect (protocol-v1.md §2), against the real server process.
 */
import { statSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, runServeExpectingExit, startServerProcess, type ServerProcess } from '../testing/index.ts';

let server: ServerProcess;
beforeAll(async () => {
  // No GATEHOUSE_TOKEN: the token is generated into the data directory.
  server = await startServerProcess({ args: ['--allowed-origins', 'https://trusted.example'], env: { DEBUG: '*' } });
});
afterAll(async () => {
  await server?.stop();
});

/** A raw HTTP GET with any Host header (fetch does not let a test set Host). */
function rawGet(port: number, path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function refusedUpgrade(url: string, headers: Record<string, string> = {}): Promise<number | undefined> {
  try {
    const client = await connectClient(url, { headers });
    client.terminate();
    return undefined;
  } catch (error) {
    return (error as { status?: number }).status;
  }
}

describe('token', () => {
  it('SEC-6: a generated token has at least 128 bits and is stored with mode 0600; the ready line carries it', () => {
    const file = join(server.dataDir, 'token');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const token = readFileSync(file, 'utf8').trim();
    expect(token).toBe(server.token);
    expect(Buffer.from(token, 'base64url').length).toBeGreaterThanOrEqual(16);
    expect(server.readyUrl).toBe(`http://127.0.0.1:${server.port}/?token=${token}`);
  });

  it('SEC-1: /api without a token or with a wrong one is 401; Bearer and ?token= are accepted', async () => {
    const none = await server.api('/api/permission-requests', { token: null });
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('unauthorized');
    expect((await server.api('/api/permission-requests', { token: 'wrong-token' })).status).toBe(401);
    expect((await server.api('/api/permission-requests', { token: `${server.token}x` })).status).toBe(401);
    expect((await server.api('/api/permission-requests')).status).toBe(200);
    expect((await server.api(`/api/permission-requests?token=${server.token}`, { token: null })).status).toBe(200);
    expect((await server.api('/metrics', { token: null })).status).toBe(401);
    expect((await server.api('/readyz', { token: null })).status).toBe(401);
    expect((await server.api('/healthz', { token: null })).status).toBe(200);
  });

  it('SEC-1: an upgrade without a token or with a wrong one is refused with 401', async () => {
    expect(await refusedUpgrade(server.wsUrl({}, { token: null }))).toBe(401);
    expect(await refusedUpgrade(server.wsUrl({}, { token: 'nope' }))).toBe(401);
    expect(await refusedUpgrade(server.wsUrl({}, { token: null, path: '/' }))).toBe(401);
  });

  it("SEC-2: opening the page with ?token= sets an HttpOnly SameSite=Strict cookie named with the port and redirects without the token; the cookie then works for the app's calls and the upgrade", async () => {
    const res = await fetch(`${server.baseUrl}/?token=${server.token}&view=queue`, { redirect: 'manual' });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('/?view=queue');
    const setCookie = res.headers.get('set-cookie')!;
    expect(setCookie).toMatch(new RegExp(`^gatehouse_${server.port}=`));
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Strict/i);
    expect(setCookie).not.toContain(server.token!);
    const cookie = setCookie.split(';')[0]!;
    // As the app sends it (the cookie rule, AUTH-6).
    expect((await server.api('/api/permission-requests', { token: null, headers: { cookie, 'x-gatehouse-client': 'web' } })).status).toBe(200);
    const client = await connectClient(server.wsUrl({}, { token: null }), { headers: { cookie: cookie! }, origin: `http://127.0.0.1:${server.port}` });
    await client.waitFor((f) => f.type === 'welcome');
    client.terminate();
    const wrong = await fetch(`${server.baseUrl}/?token=wrong`, { redirect: 'manual' });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();
  });

  it('SEC-8: the token never appears in the log, even with every namespace on', async () => {
    const client = await connectClient(server.wsUrl());
    await client.waitFor((f) => f.type === 'welcome');
    client.send({ type: 'ping' });
    await client.waitFor((f) => f.type === 'pong');
    client.terminate();
    await server.api(`/api/permission-requests?token=${server.token}`, { token: null });
    expect(server.stderr().length).toBeGreaterThan(0);
    expect(server.stderr()).not.toContain(server.token!);
    expect(server.stdout().split(server.token!).length - 1).toBe(1);
  });
});

describe('origin and host', () => {
  it('SEC-3: a foreign Origin is refused with 403 on /api and on the upgrade; own and configured origins pass', async () => {
    const foreign = await server.api('/api/permission-requests', { headers: { origin: 'http://evil.example' } });
    expect(foreign.status).toBe(403);
    expect(foreign.body.error.code).toBe('forbidden');
    // A page on another port of the same host is same-site for cookies: only Origin stops it.
    expect((await server.api('/api/permission-requests', { headers: { origin: `http://localhost:${server.port + 1}` } })).status).toBe(403);
    expect(await refusedUpgrade(server.wsUrl(), { origin: 'http://evil.example' })).toBe(403);
    expect((await server.api('/api/permission-requests', { headers: { origin: `http://localhost:${server.port}` } })).status).toBe(200);
    expect((await server.api('/api/permission-requests', { headers: { origin: `http://127.0.0.1:${server.port}` } })).status).toBe(200);
    expect((await server.api('/api/permission-requests', { headers: { origin: 'https://trusted.example' } })).status).toBe(200);
    const own = await connectClient(server.wsUrl(), { origin: `http://localhost:${server.port}` });
    expect((await own.waitFor((f) => f.type === 'welcome')).clientId).toMatch(/^browser-/);
    own.terminate();
  });

  it('SEC-4: a foreign Host is refused with 403 (DNS rebinding), on HTTP and on the upgrade', async () => {
    const auth = { authorization: `Bearer ${server.token}` };
    expect((await rawGet(server.port, '/api/permission-requests', { ...auth, host: `evil.example:${server.port}` })).status).toBe(403);
    expect((await rawGet(server.port, '/', { host: `rebind.example:${server.port}` })).status).toBe(403);
    expect((await rawGet(server.port, '/api/permission-requests', { ...auth, host: `localhost:${server.port}` })).status).toBe(200);
    expect((await rawGet(server.port, '/api/permission-requests', { ...auth, host: `[::1]:${server.port}` })).status).toBe(200);
    expect(await refusedUpgrade(server.wsUrl(), { host: `evil.example:${server.port}` })).toBe(403);
  });
});

describe('auth off', () => {
  it('SEC-5: --no-auth (or GATEHOUSE_AUTH=off) with a non-loopback host is refused with a clear message and a non-zero exit', async () => {
    const flag = await runServeExpectingExit(['--no-auth', '--host', '0.0.0.0', '--port', '0']);
    expect(flag.code).not.toBe(0);
    expect(flag.stderr).toMatch(/loopback/);
    expect(flag.stdout).not.toMatch(/listening/);
    const env = await runServeExpectingExit(['--port', '0'], { GATEHOUSE_AUTH: 'off', GATEHOUSE_HOST: '192.0.2.10' });
    expect(env.code).not.toBe(0);
    expect(env.stderr).toMatch(/loopback/);
  });

  it('SEC-5: --no-auth on loopback serves without a token, and the ready line has no ?token=', async () => {
    const open = await startServerProcess({ args: ['--no-auth'] });
    try {
      expect(open.readyUrl).toBe(`http://127.0.0.1:${open.port}/`);
      expect(open.token).toBeUndefined();
      expect((await open.api('/api/permission-requests', { token: null })).status).toBe(200);
      const client = await connectClient(open.wsUrl({}, { path: '/' }));
      expect((await client.waitFor((f) => f.type === 'welcome')).protocol).toBe(1);
      client.terminate();
      // Auth off does not open the door to other origins.
      expect((await open.api('/api/permission-requests', { headers: { origin: 'http://evil.example' } })).status).toBe(403);
    } finally {
      await open.stop();
    }
  });
});

describe('bound to every interface', () => {
  it('SEC-9: the ready line names an address another device can reach, and that address is an allowed Host and Origin', async () => {
    const lan = await startServerProcess({ args: ['--host', '0.0.0.0'] });
    try {
      const url = new URL(lan.readyUrl);
      expect(url.hostname).not.toBe('0.0.0.0');
      expect(url.hostname).not.toMatch(/^127\./);
      const auth = { authorization: `Bearer ${lan.token}` };
      expect((await rawGet(lan.port, '/api/permission-requests', { ...auth, host: url.host })).status).toBe(200);
      expect((await rawGet(lan.port, '/api/permission-requests', { ...auth, host: url.host, origin: `http://${url.host}` })).status).toBe(200);
      expect((await rawGet(lan.port, '/api/permission-requests', { ...auth, host: url.host, origin: 'http://evil.example' })).status).toBe(403);
    } finally {
      await lan.stop();
    }
  });
});
