/**
 * The app in-process (`app.request()`): the guard, the error shapes and the web UI files.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from './app.ts';
import { BrokerHost } from './brokerHost.ts';
import { testConfig } from './config.ts';
import { silentLogger } from './log.ts';
import { createMetrics } from './metrics.ts';
import { buildAllowList } from './security/allowList.ts';
import { SqliteEventStore } from './store/sqliteStore.ts';

const TOKEN = 'in-process-token-0123456789';
let dist: string;
let host: BrokerHost;

function build(staticDir: string, extra: Parameters<typeof createApp>[1] = {}) {
  const store = new SqliteEventStore({ dataDir: ':memory:' });
  host = new BrokerHost({ store, logger: silentLogger }, store.loadNow({ now: Date.now() }));
  const allow = buildAllowList({ bindHost: '127.0.0.1', port: 3000, extraOrigins: [], extraHosts: [] });
  return createApp(
    {
      config: testConfig({ staticDir }),
      store,
      host,
      security: { auth: true, token: TOKEN, port: () => 3000, allowList: () => allow },
      logger: silentLogger,
      metrics: createMetrics(),
    },
    extra,
  );
}

const get = (app: Hono, path: string, headers: Record<string, string> = {}) =>
  app.request(`http://127.0.0.1:3000${path}`, { headers: { host: '127.0.0.1:3000', ...headers } });

beforeAll(() => {
  dist = mkdtempSync(join(tmpdir(), 'gh-dist-'));
  mkdirSync(join(dist, 'assets'));
  writeFileSync(join(dist, 'index.html'), '<!doctype html><title>Gatehouse</title>');
  writeFileSync(join(dist, 'assets', 'app-1234.js'), 'console.log(1)');
  writeFileSync(join(dist, 'assets', 'app-1234.css'), 'body{}');
});
afterAll(async () => {
  rmSync(dist, { recursive: true, force: true });
  await host?.stop();
});

describe('web UI files', () => {
  it('OPS-9, SEC-10: serves dist/ with content types, falls back to index.html for pages, 404 for missing assets', async () => {
    const app = build(dist);
    const index = await get(app, '/');
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toMatch(/text\/html/);
    expect(index.headers.get('x-frame-options')).toBe('DENY');
    expect(index.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(index.headers.get('referrer-policy')).toBe('no-referrer');
    expect(index.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await index.text()).toContain('<title>Gatehouse</title>');
    const js = await get(app, '/assets/app-1234.js');
    expect(js.headers.get('content-type')).toMatch(/javascript/);
    expect(js.headers.get('cache-control')).toMatch(/immutable/);
    expect((await get(app, '/assets/app-1234.css')).headers.get('content-type')).toMatch(/text\/css/);
    const page = await get(app, '/history/123');
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Gatehouse');
    expect((await get(app, '/assets/missing.js')).status).toBe(404);
    const traversal = await get(app, '/..%2f..%2fetc%2fpasswd');
    expect(await traversal.text()).not.toContain('root:');
  });

  it('OPS-9: without a build, a short page says to run npm run build', async () => {
    const app = build(join(dist, 'nope'));
    const res = await get(app, '/');
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/npm run build/);
  });
});

describe('guard and routes in-process', () => {
  it('SEC-1 HTTP-7: refusals carry the error body; extra routes mount behind the guard', async () => {
    const extra = new Hono();
    extra.get('/', (c) => c.json({ sessions: [] }));
    const app = build(dist, { extraRoutes: [{ path: '/api/sessions', routes: extra }] });
    const none = await get(app, '/api/sessions');
    expect(none.status).toBe(401);
    expect(await none.json()).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
    const ok = await get(app, '/api/sessions', { authorization: `Bearer ${TOKEN}` });
    expect(await ok.json()).toEqual({ sessions: [] });
    const host403 = await get(app, '/api/sessions', { authorization: `Bearer ${TOKEN}`, host: 'evil:3000' });
    expect(host403.status).toBe(403);
    expect((await get(app, '/healthz', { host: 'anything' })).status).toBe(200);
  });
});
