/**
 * Remembered rules and the audit log through a real server process.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAndJoin, startServerProcess, type ServerProcess } from '../testing/index.ts';

let server: ServerProcess;
let project: string;
beforeAll(async () => {
  server = await startServerProcess({ args: ['--agent', 'demo'] });
  project = mkdtempSync(join(tmpdir(), 'gh-rules-project-'));
  mkdirSync(join(project, '.git'));
  mkdirSync(join(project, 'sub'));
});
afterAll(async () => {
  await server?.stop();
  rmSync(project, { recursive: true, force: true });
});

let _counter = 0;
async function ask(command: string, context: Record<string, unknown>) {
  _counter += 1;
  const created = await server.api('/api/permission-requests', {
    method: 'POST',
    json: { toolName: 'Bash', input: { command }, context: { agent: 'test', ...context } },
  });
  expect(created.status).toBe(201);
  return created.body.id as string;
}
const view = async (id: string, wait = 0) => (await server.api(`/api/permission-requests/${id}${wait ? `?wait=${wait}` : ''}`)).body;

describe('remembered rules', () => {
  it('RULE-1: "always allow" on git status allows a later git status in scope with no human, audited; not git status --short (exact), not git status && rm -rf x; not in another session', async () => {
    const { client } = await connectAndJoin(server.wsUrl());
    try {
      const first = await ask('git status', { sessionId: 's-A', cwd: project });
      const decided = await server.api(`/api/permission-requests/${first}/decision`, {
        method: 'POST',
        json: { decision: 'allow', remember: { scope: 'session' } },
      });
      expect(decided.status).toBe(200);
      const rules = (await server.api('/api/rules')).body.rules;
      const rule = rules.find((r: { sourceRequestId?: string }) => r.sourceRequestId === first);
      expect(rule).toMatchObject({ toolName: 'Bash', pattern: 'git status', kind: 'bash-exact', scope: 'session', scopeValue: 's-A', decision: 'allow' });

      const longer = await ask('git status --short', { sessionId: 's-A', cwd: project });
      const later = await ask('git status', { sessionId: 's-A', cwd: project });
      expect(await view(later, 5)).toMatchObject({ status: 'resolved', decision: 'allow', decidedBy: `rule:${rule.id}` });
      // The UI sees the request, then at once its resolution by the rule.
      const requestEvent = await client.waitFor((f) => f.type === 'permission-request' && f.id === later);
      const resolvedEvent = await client.waitFor((f) => f.type === 'permission-resolved' && f.requestId === later);
      expect(resolvedEvent.seq).toBeGreaterThan(requestEvent.seq);
      expect(resolvedEvent.decidedBy).toBe(`rule:${rule.id}`);

      const audit = (await server.api(`/api/audit?requestId=${later}`)).body.entries;
      expect(audit).toHaveLength(1);
      expect(audit[0]).toMatchObject({ how: 'rule', decision: 'allow', ruleId: rule.id, sessionId: 's-A', toolName: 'Bash' });

      const chained = await ask('git status && rm -rf x', { sessionId: 's-A', cwd: project });
      const other = await ask('git status', { sessionId: 's-B', cwd: project });
      // Requests are looked at in order: once this one is decided by the rule, the others were seen.
      const sentinel = await ask('git status', { sessionId: 's-A', cwd: project });
      expect((await view(sentinel, 5)).decidedBy).toBe(`rule:${rule.id}`);
      for (const id of [longer, chained, other]) {
        expect((await view(id)).status).toBe('pending');
        await server.api(`/api/permission-requests/${id}`, { method: 'DELETE' });
      }
    } finally {
      await client.close();
    }
  });

  it('RULE-4: a new rule resolves the unresolved requests it covers; revoking it stops it', async () => {
    const waiting = await ask('npm test', { sessionId: 's-C', cwd: join(project, 'sub') });
    const uncovered = await ask('npm publish', { sessionId: 's-C', cwd: join(project, 'sub') });
    const trigger = await ask('npm test', { sessionId: 's-D', cwd: project });
    // "Always allow" with project scope: the project is the git root of the cwd.
    await server.api(`/api/permission-requests/${trigger}/decision`, { method: 'POST', json: { decision: 'allow', remember: { scope: 'project' } } });
    const resolved = await view(waiting, 5);
    expect(resolved.status).toBe('resolved');
    expect(resolved.decidedBy).toMatch(/^rule:/);
    expect((await view(uncovered, 1)).status).toBe('pending');
    const ruleId = resolved.decidedBy.slice(5);
    const rule = (await server.api('/api/rules')).body.rules.find((r: { id: string }) => r.id === ruleId);
    expect(rule).toMatchObject({ scope: 'project', scopeValue: project });

    expect((await server.api(`/api/rules/${ruleId}`, { method: 'DELETE' })).status).toBe(200);
    expect((await server.api(`/api/rules/${ruleId}`, { method: 'DELETE' })).status).toBe(404);
    const after = await ask('npm test', { sessionId: 's-C', cwd: project });
    expect((await view(after, 1)).status).toBe('pending');
    await server.api(`/api/permission-requests/${after}`, { method: 'DELETE' });
    await server.api(`/api/permission-requests/${uncovered}`, { method: 'DELETE' });
  });

  it('RULE-5: file tools match by path glob (rules created over the API)', async () => {
    const created = await server.api('/api/rules', { method: 'POST', json: { toolName: 'Write', pattern: `${project}/src/**`, scope: 'global' } });
    expect(created.status).toBe(201);
    const inside = await server.api('/api/permission-requests', {
      method: 'POST',
      json: { toolName: 'Write', input: { file_path: `${project}/src/a/b.ts`, content: '' }, context: { cwd: project } },
    });
    const outside = await server.api('/api/permission-requests', {
      method: 'POST',
      json: { toolName: 'Write', input: { file_path: `${project}/src/../.env`, content: '' }, context: { cwd: project } },
    });
    expect((await view(inside.body.id, 5)).status).toBe('resolved');
    expect((await view(outside.body.id, 1)).status).toBe('pending');
    await server.api(`/api/permission-requests/${outside.body.id}`, { method: 'DELETE' });
    await server.api(`/api/rules/${created.body.id}`, { method: 'DELETE' });
    expect((await server.api('/api/rules', { method: 'POST', json: { toolName: 'Write', pattern: 'x', scope: 'session' } })).status).toBe(400);
  });
});

describe('audit log', () => {
  it('AUD-1: every outcome is audited (human, cancel), filterable, and exportable as JSONL', async () => {
    const human = await ask('make build', { sessionId: 's-audit', cwd: project });
    await server.api(`/api/permission-requests/${human}/decision`, { method: 'POST', json: { decision: 'deny', message: 'not now' } });
    const cancelled = await ask('make clean', { sessionId: 's-audit', cwd: project });
    await server.api(`/api/permission-requests/${cancelled}`, { method: 'DELETE' });
    const entries = (await server.api('/api/audit?sessionId=s-audit')).body.entries;
    // Newest first (CORE-1); the export below is oldest first.
    expect(entries).toEqual([
      expect.objectContaining({ requestId: cancelled, how: 'cancel', decision: 'deny', status: 'cancelled' }),
      expect.objectContaining({
        requestId: human,
        how: 'human',
        decision: 'deny',
        decidedBy: 'http',
        via: 'http',
        address: expect.stringMatching(/127\.0\.0\.1/),
        message: 'not now',
        status: 'resolved',
      }),
    ]);
    expect((await server.api('/api/audit?sessionId=s-audit&how=cancel')).body.entries).toHaveLength(1);
    const jsonl = await server.api('/api/audit?sessionId=s-audit&format=jsonl');
    expect(jsonl.headers.get('content-type')).toMatch(/ndjson/);
    const lines = jsonl.text
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines.map((line) => line.requestId)).toEqual([human, cancelled]);
    expect((await server.api('/api/audit?how=bogus')).status).toBe(400);
  });
});
