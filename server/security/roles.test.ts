/**
 * The two roles (contract-2 §1) against the real app in-process: the agent token opens
 * create, read-by-id, cancel and the agent endpoints; everything else answers 403
 * `forbidden` naming the role. The owner token keeps every right.
 */
import { describe, expect, it } from 'vitest';
import { createApp } from '../app.ts';
import { BrokerHost } from '../brokerHost.ts';
import { testConfig } from '../config.ts';
import { silentLogger } from '../log.ts';
import { createMetrics } from '../metrics.ts';
import { SqliteEventStore } from '../store/sqliteStore.ts';
import { buildAllowList } from './allowList.ts';

const OWNER = 'owner-token-0123456789abcdef';
const AGENT = 'agent-token-0123456789abcdef';

function build() {
  const store = new SqliteEventStore({ dataDir: ':memory:' });
  const allow = buildAllowList({ bindHost: '127.0.0.1', port: 3000, extraOrigins: [], extraHosts: [] });
  const app = createApp({
    config: testConfig(),
    store,
    host: new BrokerHost({ store, logger: silentLogger }, store.loadNow({ now: Date.now() })),
    security: { auth: true, token: OWNER, agentToken: AGENT, port: () => 3000, allowList: () => allow },
    logger: silentLogger,
    metrics: createMetrics(),
  });
  return (method: string, path: string, token: string, body?: unknown, headers: Record<string, string> = {}) =>
    app.request(`http://127.0.0.1:3000${path}`, {
      method,
      headers: { host: '127.0.0.1:3000', authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
}

describe('roles', () => {
  it('AUTH-1: the agent token creates, reads and cancels a request', async () => {
    const call = build();
    const created = await call('POST', '/api/permission-requests', AGENT, { toolName: 'Bash', input: { command: 'ls' } });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    expect((await call('GET', `/api/permission-requests/${id}`, AGENT)).status).toBe(200);
    expect((await call('DELETE', `/api/permission-requests/${id}`, AGENT)).status).toBe(200);
  });

  it('AUTH-2: every other call with the agent token answers 403 forbidden naming the role; the owner token may', async () => {
    const call = build();
    const created = await call('POST', '/api/permission-requests', AGENT, { toolName: 'Bash', input: { command: 'ls' } });
    const { id } = (await created.json()) as { id: string };
    const refused: [string, string, unknown?, Record<string, string>?][] = [
      ['POST', `/api/permission-requests/${id}/decision`, { decision: 'allow' }],
      ['GET', '/api/permission-requests?status=pending'],
      ['GET', '/api/permission-requests'],
      ['GET', '/api/rules'],
      ['POST', '/api/rules', { toolName: 'Bash', pattern: 'perl -e', scope: 'global' }],
      ['GET', '/api/audit'],
      ['GET', `/api/audit/${id}`],
      ['GET', '/api/sessions'],
      ['GET', '/api/devices'],
      ['GET', '/metrics'],
      ['GET', '/ws', undefined, { upgrade: 'websocket', connection: 'Upgrade' }],
    ];
    for (const [method, path, body, headers] of refused) {
      const res = await call(method, path, AGENT, body, headers);
      expect(res.status, `${method} ${path}`).toBe(403);
      const error = ((await res.json()) as { error: { code: string; message: string } }).error;
      expect(error.code).toBe('forbidden');
      expect(error.message).toMatch(/agent token/);
    }
    const decided = await call('POST', `/api/permission-requests/${id}/decision`, OWNER, { decision: 'allow' });
    expect(decided.status).toBe(200);
    expect((await call('GET', '/api/permission-requests?status=pending', OWNER)).status).toBe(200);
  });
});

describe('roles, over every route of the server as served', () => {
  it('AUTH-2: every route of the composed server (agents, rules, audit, sessions, devices, pairings, push) that contract-2 does not grant the agent token answers it 403', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { startServer } = await import('../server.ts');
    const { default: createAgentsPlugin } = await import('../agents/plugin.ts');
    const { agentMayCall } = await import('./guard.ts');
    const dataDir = mkdtempSync(join(tmpdir(), 'gh-roles-'));
    const server = await startServer(testConfig({ dataDir, agent: 'demo' }), { logger: silentLogger, plugins: [createAgentsPlugin] });
    try {
      const routes = server.routes().filter((r) => r.path.startsWith('/api/') || r.path === '/metrics' || r.path === '/readyz');
      expect(routes.length).toBeGreaterThan(20);
      let refused = 0;
      for (const { method, path } of routes) {
        const concrete = path.replace(/:[A-Za-z]+/g, 'x').replace(/\/\*$/, '/x');
        if (agentMayCall(method, concrete, false)) continue;
        const res = await fetch(`${server.baseUrl}${concrete}`, {
          method,
          headers: { authorization: `Bearer ${server.agentToken}`, 'content-type': 'application/json' },
          ...(method === 'GET' || method === 'HEAD' ? {} : { body: '{}' }),
        });
        expect(res.status, `${method} ${path}`).toBe(403);
        refused += 1;
      }
      expect(refused).toBeGreaterThan(15);
    } finally {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
