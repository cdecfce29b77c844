/**
 * Pairing links (contract-2 §4) in-process, with a simulated clock for the 10 minutes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createApp } from '../app.ts';
import { BrokerHost } from '../brokerHost.ts';
import { testConfig } from '../config.ts';
import { redact, silentLogger } from '../log.ts';
import { createMetrics } from '../metrics.ts';
import { SqliteDeviceStore, MAX_PAIRINGS, PAIRING_TTL_MS } from '../store/deviceStore.ts';
import { SqliteEventStore } from '../store/sqliteStore.ts';
import { buildAllowList } from './allowList.ts';
import { pairingHost } from './pairing.ts';

const OWNER = 'owner-token-0123456789abcdef';
const AGENT = 'agent-token-0123456789abcdef';
const PHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1';

const cleanup: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0)) await fn();
});

async function build() {
  const clock = { now: 1_000_000 };
  const store = new SqliteEventStore({ dataDir: ':memory:' });
  const devices = new SqliteDeviceStore({ dataDir: ':memory:', now: () => clock.now });
  const host = new BrokerHost({ store, logger: silentLogger }, store.loadNow({ now: Date.now() }));
  cleanup.push(async () => {
    await host.stop();
    void devices.close();
  });
  const allow = buildAllowList({ bindHost: '127.0.0.1', port: 3000, extraOrigins: [], extraHosts: [] });
  const app = createApp({
    config: testConfig(),
    store,
    host,
    security: { auth: true, token: OWNER, agentToken: AGENT, devices, port: () => 3000, allowList: () => allow },
    logger: silentLogger,
    metrics: createMetrics(),
  });
  const call = (method: string, path: string, headers: Record<string, string> = {}) =>
    app.request(`http://127.0.0.1:3000${path}`, { method, headers: { host: '127.0.0.1:3000', ...headers } });
  const pair = async (headers: Record<string, string> = { authorization: `Bearer ${OWNER}` }) => {
    const res = await call('POST', '/api/pairings', headers);
    return { res, body: (await res.json()) as { url: string; code: string; expiresAt: number } };
  };
  return { call, pair, clock, devices };
}

describe('pairing', () => {
  it('AUTH-10: the owner gets a one-time link; opening it makes a new device and redirects to /; opening it again answers 410', async () => {
    const { call, pair, devices, clock } = await build();
    const { res, body } = await pair();
    expect(res.status).toBe(201);
    expect(body.url).toBe(`http://127.0.0.1:3000/pair/${body.code}`);
    expect(body.expiresAt).toBe(clock.now + PAIRING_TTL_MS);
    expect(Buffer.from(body.code, 'base64url').length).toBe(32);
    const opened = await call('GET', `/pair/${body.code}`, { 'user-agent': PHONE });
    expect(opened.status).toBe(302);
    expect(opened.headers.get('location')).toBe('/');
    expect(opened.headers.get('cache-control')).toBe('no-store');
    const cookie = opened.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^gatehouse_3000=[A-Za-z0-9_-]{43};/);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect((await devices.list()).map((d) => d.name)).toEqual(['Safari on iOS']);
    // The new device works like any other (under the cookie rule).
    const session = cookie.split(';')[0]!;
    expect((await call('GET', '/api/permission-requests', { cookie: session, 'x-gatehouse-client': 'web' })).status).toBe(200);
    const again = await call('GET', `/pair/${body.code}`, { 'user-agent': PHONE });
    expect(again.status).toBe(410);
    expect(again.headers.get('set-cookie')).toBeNull();
    expect(await devices.list()).toHaveLength(1);
  });

  it('AUTH-10: a code older than 10 minutes, or one never made, answers 410 and makes no device', async () => {
    const { call, pair, devices, clock } = await build();
    const { body } = await pair();
    clock.now += PAIRING_TTL_MS;
    expect((await call('GET', `/pair/${body.code}`)).status).toBe(410);
    const fresh = (await pair()).body;
    clock.now += PAIRING_TTL_MS - 1;
    for (const code of ['x', 'A'.repeat(43), `${fresh.code}A`, '%00']) expect((await call('GET', `/pair/${code}`)).status, code).toBe(410);
    expect(await devices.list()).toHaveLength(0);
    // A HEAD (a link checker) does not spend it.
    expect((await call('HEAD', `/pair/${fresh.code}`)).status).toBe(405);
    expect((await call('GET', `/pair/${fresh.code}`)).status).toBe(302);
    expect(await devices.list()).toHaveLength(1);
  });

  it('AUTH-10: a device may make a link; the agent token, no credential and a cookie-only call without the app header may not', async () => {
    const { call, pair } = await build();
    const first = (await pair()).body;
    const cookie = (await call('GET', `/pair/${first.code}`)).headers.get('set-cookie')!.split(';')[0]!;
    expect((await pair({ cookie, 'x-gatehouse-client': 'web' })).res.status).toBe(201);
    expect((await pair({ cookie })).res.status).toBe(403);
    expect((await pair({ authorization: `Bearer ${AGENT}` })).res.status).toBe(403);
    expect((await pair({})).res.status).toBe(401);
  });

  it('AUTH-10: a browser that was a device and opens a link gets the new device; the old one is ended', async () => {
    const { call, pair, devices } = await build();
    const a = (await pair()).body;
    const old = (await call('GET', `/pair/${a.code}`)).headers.get('set-cookie')!.split(';')[0]!;
    const b = (await pair()).body;
    const fresh = (await call('GET', `/pair/${b.code}`, { cookie: old })).headers.get('set-cookie')!.split(';')[0]!;
    expect(fresh).not.toBe(old);
    expect(await devices.list()).toHaveLength(1);
    expect((await call('GET', '/api/devices', { cookie: old, 'x-gatehouse-client': 'web' })).status).toBe(401);
    expect((await call('GET', '/api/devices', { cookie: fresh, 'x-gatehouse-client': 'web' })).status).toBe(200);
  });

  it('AUTH-10: unused codes are bounded', async () => {
    const { call, pair, devices } = await build();
    const first = (await pair()).body;
    for (let i = 0; i < MAX_PAIRINGS; i++) await pair();
    expect((await call('GET', `/pair/${first.code}`)).status).toBe(410);
    expect(await devices.list()).toHaveLength(0);
  });

  it('AUTH-10: the link names the address the caller used, or the LAN address when that was loopback on a server that answers on the LAN', () => {
    const local = buildAllowList({ bindHost: '127.0.0.1', port: 3000, extraOrigins: [], extraHosts: [] });
    expect(pairingHost('localhost:3000', local, 3000)).toBe('localhost:3000');
    const lan = buildAllowList({
      bindHost: '0.0.0.0',
      port: 3000,
      extraOrigins: [],
      extraHosts: [],
      interfaceAddresses: ['127.0.0.1', '192.168.1.20'],
      hostName: 'devbox',
    });
    expect(pairingHost('127.0.0.1:3000', lan, 3000)).toBe('192.168.1.20:3000');
    expect(pairingHost('[::1]:3000', lan, 3000)).toBe('192.168.1.20:3000');
    expect(pairingHost('devbox.local:3000', lan, 3000)).toBe('devbox.local:3000');
  });

  it('AUTH-10: a pairing code never reaches the log', async () => {
    const { pair } = await build();
    const { body } = await pair();
    const line = redact(`refused path=/pair/${body.code} url=${body.url}?x=1`);
    expect(line).not.toContain(body.code);
    expect(line).toContain('/pair/[redacted]');
  });
});
