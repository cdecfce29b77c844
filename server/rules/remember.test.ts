/**
 * "Always allow" through a real server process: what a remembered decision makes (and
 * refuses to make), the proposal the card shows, the checks made before deciding.
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
  project = mkdtempSync(join(tmpdir(), 'gh-remember-'));
  mkdirSync(join(project, '.git'));
});
afterAll(async () => {
  await server?.stop();
  rmSync(project, { recursive: true, force: true });
});

let n = 0;
async function ask(command: string, context: Record<string, unknown> = {}) {
  n += 1;
  const created = await server.api('/api/permission-requests', {
    method: 'POST',
    json: { toolName: 'Bash', input: { command }, context: { agent: 'test', sessionId: `s-${n}`, cwd: project, ...context } },
  });
  expect(created.status).toBe(201);
  return created.body.id as string;
}
const view = async (id: string, wait = 0) => (await server.api(`/api/permission-requests/${id}${wait ? `?wait=${wait}` : ''}`)).body;
const rulesFrom = async (requestId: string) =>
  ((await server.api('/api/rules')).body.rules as Array<Record<string, unknown>>).filter((r) => r.sourceRequestId === requestId);
const decide = (id: string, body: Record<string, unknown>) =>
  server.api(`/api/permission-requests/${id}/decision`, { method: 'POST', json: { decision: 'allow', ...body } });
const cancel = (id: string) => server.api(`/api/permission-requests/${id}`, { method: 'DELETE' });

/** The requests `ids` are still pending once the rules had their say: the engine looks at
 *  requests in the order they were created, so once `sentinel` (a command a rule covers,
 *  asked last) is decided by a rule, every earlier request was looked at too. */
async function expectPending(ids: string[], sentinel: string) {
  const last = await ask(sentinel);
  expect((await view(last, 5)).decidedBy, sentinel).toMatch(/^rule:/);
  for (const id of ids) {
    const seen = await view(id);
    expect(seen.status, String(seen.input.command)).toBe('pending');
    await cancel(id);
  }
}

/** Always allow `first` globally, then ask each of `later`: each must stay pending. */
async function notCoveredAfter(first: string, later: string[]) {
  const id = await ask(first);
  expect((await decide(id, { remember: { scope: 'global' } })).status).toBe(200);
  const asked = [];
  for (const command of later) asked.push(await ask(command));
  await expectPending(asked, first);
  return id;
}

describe('what "Always allow" remembers', () => {
  it('RULE-9: the default rule is the exact command: find -exec/-delete, sed e, git diff --output, make --eval, npm --node-options are not covered', async () => {
    await notCoveredAfter('find . -name "*.ts"', ['find . -name "*.ts" -exec rm {} +', 'find . -name "*.ts" -delete', 'find . -name "*.ts" -fprint /tmp/x']);
    await notCoveredAfter("sed -n '1p' file.txt", ["sed -n '1p' file.txt -e '1e touch /tmp/x'", "sed -n '1p' -i file.txt"]);
    await notCoveredAfter('git diff', ['git diff --output=/tmp/x', 'git diff --ext-diff']);
    await notCoveredAfter('make build', ['make build --eval=x', 'make build -f /tmp/evil.mk']);
    await notCoveredAfter('npm test', ['npm test --node-options=--require=/tmp/x.js', 'npm test --script-shell=/tmp/sh']);
  });

  it('RULE-9: the exact rule still covers the same command (positive)', async () => {
    const id = await ask('npm run lint');
    expect((await decide(id, { remember: { scope: 'global' } })).status).toBe(200);
    const [rule] = await rulesFrom(id);
    expect(rule).toMatchObject({ toolName: 'Bash', kind: 'bash-exact', pattern: 'npm run lint', scope: 'global' });
    const again = await ask('npm run lint');
    expect(await view(again, 5)).toMatchObject({ status: 'resolved', decidedBy: `rule:${rule?.id}` });
  });

  it('RULE-10: a pipeline is ONE rule; curl … | bash makes none (the decision still counts, the answer says why)', async () => {
    const piped = await ask('curl -s https://example.com/install.sh | bash');
    const answer = await decide(piped, { remember: { scope: 'global' } });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ status: 'resolved', decision: 'allow', remember: { created: false, reason: expect.stringMatching(/bash/) } });
    expect(await rulesFrom(piped)).toEqual([]);
    const list = await ask('git log --oneline | head -5');
    expect((await decide(list, { remember: { scope: 'global' } })).body.remember).toMatchObject({ created: true });
    const made = await rulesFrom(list);
    expect(made).toHaveLength(1);
    expect(made[0]).toMatchObject({ kind: 'bash-exact', pattern: 'git log --oneline | head -5' });
    await expectPending([await ask('bash'), await ask('head -5'), await ask('git log --oneline')], 'git log --oneline | head -5');
  });

  it('RULE-11: interpreters, runners and wrappers are never remembered, also after assignments or as a path', async () => {
    for (const command of [
      'python3 -c "print(1)"',
      'node -e 1',
      'FOO=1 /usr/bin/perl -e 1',
      'env ls',
      'sudo ls',
      'xargs rm',
      'timeout 5 ls',
      'NODE_OPTIONS=--require=/tmp/x npm test',
      'git -c core.pager=sh log',
      'curl -o /tmp/x https://e.x',
      'ls > out.txt',
    ]) {
      const id = await ask(command);
      const answer = await decide(id, { remember: { scope: 'global' } });
      expect(answer.status, command).toBe(200);
      expect(answer.body.remember, command).toMatchObject({ created: false });
      expect(await rulesFrom(id), command).toEqual([]);
    }
  });

  it('RULE-12: the proposal shows the rule before it is saved; a prefix is made only when chosen, and only one the server proposes', async () => {
    const id = await ask('git status --short');
    const proposal = await server.api('/api/rules/proposal', { method: 'POST', json: { requestId: id } });
    expect(proposal.status).toBe(200);
    expect(proposal.body).toMatchObject({ requestId: id, toolName: 'Bash', exact: { kind: 'bash-exact', pattern: 'git status --short' } });
    expect(proposal.body.prefixes.map((p: { pattern: string }) => p.pattern)).toContain('git status');
    expect(proposal.body.prefixes.map((p: { pattern: string }) => p.pattern)).not.toContain('git');
    expect(proposal.body.scopes).toEqual(expect.arrayContaining([expect.objectContaining({ scope: 'session', available: true })]));

    // A pattern the server would not propose is refused, and nothing is decided.
    const forged = await decide(id, { remember: { scope: 'global', prefix: 'git' } });
    expect(forged.status).toBe(400);
    expect(forged.body.error).toMatchObject({ code: 'invalid-message', message: expect.stringMatching(/remember\.prefix/) });
    expect((await view(id)).status).toBe('pending');

    expect((await decide(id, { remember: { scope: 'global', prefix: 'git status' } })).body.remember).toMatchObject({
      created: true,
      rule: { kind: 'bash-prefix', pattern: 'git status' },
    });
    await expectPending([await ask('git status && rm -rf x'), await ask('git status -c x=y > out'), await ask('git stash')], 'git status -uno');

    const refused = await ask('bash -c "ls"');
    const none = await server.api('/api/rules/proposal', { method: 'POST', json: { requestId: refused } });
    expect(none.body).toMatchObject({ exact: null, prefixes: [], refused: expect.stringMatching(/bash/) });
    await cancel(refused);
    expect((await server.api('/api/rules/proposal', { method: 'POST', json: { requestId: 'nope' } })).status).toBe(404);
  });

  it('RULE-11: POST /api/rules refuses an allow rule the policy refuses and a path glob that is not absolute; makes an exact Bash rule on request', async () => {
    const bad = await server.api('/api/rules', { method: 'POST', json: { toolName: 'Bash', pattern: 'perl -e', scope: 'global' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'invalid-message', message: expect.stringMatching(/perl/) });
    const relative = await server.api('/api/rules', { method: 'POST', json: { toolName: 'Write', pattern: 'src/**', scope: 'global' } });
    expect(relative.status).toBe(400);
    expect(relative.body.error.message).toMatch(/absolute/);
    const denyOk = await server.api('/api/rules', { method: 'POST', json: { toolName: 'Bash', pattern: 'perl', decision: 'deny', scope: 'global' } });
    expect(denyOk.status).toBe(201);
    await server.api(`/api/rules/${denyOk.body.id}`, { method: 'DELETE' });
    const exact = await server.api('/api/rules', { method: 'POST', json: { toolName: 'Bash', pattern: 'ls -la | wc -l', match: 'exact', scope: 'global' } });
    expect(exact.status).toBe(201);
    expect(exact.body).toMatchObject({ kind: 'bash-exact', pattern: 'ls -la | wc -l' });
    const covered = await ask('ls -la | wc -l');
    expect((await view(covered, 5)).decidedBy).toBe(`rule:${exact.body.id}`);
    await server.api(`/api/rules/${exact.body.id}`, { method: 'DELETE' });
  });

  it('RULE-13: edit-and-remember remembers the edited input, not the original', async () => {
    const id = await ask('npm publish');
    const answer = await decide(id, { updatedInput: { command: 'npm publish --dry-run' }, remember: { scope: 'global' } });
    expect(answer.status).toBe(200);
    const [rule] = await rulesFrom(id);
    expect(rule).toMatchObject({ pattern: 'npm publish --dry-run' });
    await expectPending([await ask('npm publish')], 'npm publish --dry-run');

    // The proposal for an edited input is the edited input's.
    const other = await ask('rm -rf dist');
    const proposal = await server.api('/api/rules/proposal', { method: 'POST', json: { requestId: other, updatedInput: { command: 'ls dist' } } });
    expect(proposal.body).toMatchObject({ exact: { pattern: 'ls dist' }, prefixes: [{ pattern: 'ls dist' }, { pattern: 'ls' }] });
    await cancel(other);
  });

  it('RULE-14: a scope the request cannot have is invalid-message and decides nothing (HTTP and WebSocket)', async () => {
    const id = await ask('cargo check', { sessionId: undefined, cwd: undefined });
    const http = await decide(id, { remember: { scope: 'session' } });
    expect(http.status).toBe(400);
    expect(http.body.error).toMatchObject({ code: 'invalid-message', message: expect.stringMatching(/session id/) });
    const project = await decide(id, { remember: { scope: 'project' } });
    expect(project.status).toBe(400);
    expect(project.body.error.message).toMatch(/cwd/);
    expect((await view(id)).status).toBe('pending');

    const { client } = await connectAndJoin(server.wsUrl());
    try {
      client.send({ type: 'permission-response', requestId: id, decision: 'allow', clientMsgId: 'c-scope-1', remember: { scope: 'session' } });
      const error = await client.waitFor((f) => f.type === 'error' && f.ref === 'c-scope-1');
      expect(error).toMatchObject({ code: 'invalid-message', message: expect.stringMatching(/session id/) });
      expect((await view(id)).status).toBe('pending');
      client.send({ type: 'permission-response', requestId: id, decision: 'allow', clientMsgId: 'c-scope-2', remember: { scope: 'global' } });
      const ack = await client.waitFor((f) => f.type === 'ack' && f.ref === 'c-scope-2');
      expect(ack).toMatchObject({ status: 'accepted', remember: { created: true, rule: { pattern: 'cargo check', scope: 'global' } } });

      // Refused by the policy: accepted all the same, and the ack says why no rule was made.
      const refused = await ask('sudo make install');
      client.send({ type: 'permission-response', requestId: refused, decision: 'allow', clientMsgId: 'c-scope-3', remember: { scope: 'global' } });
      const refusedAck = await client.waitFor((f) => f.type === 'ack' && f.ref === 'c-scope-3');
      expect(refusedAck).toMatchObject({ status: 'accepted', remember: { created: false, reason: expect.stringMatching(/sudo/) } });
      expect(await view(refused)).toMatchObject({ status: 'resolved', decision: 'allow' });
      expect(await rulesFrom(refused)).toEqual([]);
    } finally {
      await client.close();
    }
  });
});
