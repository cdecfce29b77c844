/**
 * `POST /api/hooks/claude` through a real server process, driven as Claude Code's http
 * hook drives it (the body is the hook input, the answer the hook output): the same
 * output as `gatehouse hook`, bad input named, the request's budget below the hook's,
 * cancelled when the caller disconnects, and "answered elsewhere" events cancelling the
 * matching request with reason `answered-in-terminal` (seen on a WebSocket).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAndJoin, startServerProcess, type ServerProcess, type TestClient } from '../../testing/index.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gatehouseCommand } from '../testing/gatehouseCli.ts';
import { runProcess } from '../testing/runProcess.ts';
import { allowOutput, denyOutput } from './claudeHook.ts';

let server: ServerProcess;
let client: TestClient;
beforeAll(async () => {
  server = await startServerProcess();
  ({ client } = await connectAndJoin(server.wsUrl()));
});
afterAll(async () => {
  await client?.close();
  await server?.stop();
});

let counter = 0;
function permissionRequest(extra: Record<string, unknown> = {}) {
  counter += 1;
  return {
    session_id: randomUUID(),
    transcript_path: '/tmp/t.jsonl',
    cwd: '/tmp/project',
    prompt_id: randomUUID(),
    permission_mode: 'default',
    hook_event_name: 'PermissionRequest',
    tool_name: 'Bash',
    tool_input: { command: `echo cch ${counter} > /tmp/elsewhere/out.txt`, description: 'write a file' },
    permission_suggestions: [],
    ...extra,
  };
}

const hook = (body: unknown, init: { query?: string; token?: string | null; signal?: AbortSignal } = {}) =>
  server.api(`/api/hooks/claude${init.query ?? ''}`, {
    method: 'POST',
    ...(typeof body === 'string' ? { body, headers: { 'content-type': 'application/json' } } : { json: body }),
    token: init.token === undefined ? server.agentToken : init.token,
    ...(init.signal ? { signal: init.signal } : {}),
  });

const requestFor = (command: string, from: number) =>
  client.waitFor((f) => f.type === 'permission-request' && f.input.command === command, { fromIndex: from });
const cancelledEvent = (id: string, from: number) => client.waitFor((f) => f.type === 'permission-cancelled' && f.requestId === id, { fromIndex: from });

describe('POST /api/hooks/claude: asking', () => {
  it('CCH-5: a PermissionRequest allowed in Gatehouse answers the hook output gatehouse hook prints (with the edited input); the agent token is enough', async () => {
    const input = permissionRequest();
    const from = client.frames.length;
    const answer = hook(input);
    const request = await requestFor(input.tool_input.command, from);
    expect(request.context).toMatchObject({ agent: 'claude-code-hook', sessionId: input.session_id, cwd: '/tmp/project', hookEvent: 'PermissionRequest' });
    const edited = { ...input.tool_input, command: 'echo edited' };
    await server.api(`/api/permission-requests/${request.id}/decision`, { method: 'POST', json: { decision: 'allow', updatedInput: edited } });
    const res = await answer;
    expect(res.status).toBe(200);
    expect(res.body).toEqual(allowOutput('PermissionRequest', edited, 'unused'));
  });

  it('CCH-5: a PreToolUse denied in Gatehouse answers permissionDecision deny with the reason', async () => {
    const input = { ...permissionRequest(), hook_event_name: 'PreToolUse', tool_use_id: `toolu_${randomUUID()}` };
    const from = client.frames.length;
    const answer = hook(input);
    const request = await requestFor(input.tool_input.command, from);
    expect(request.context.toolUseId).toBe(input.tool_use_id);
    await server.api(`/api/permission-requests/${request.id}/decision`, { method: 'POST', json: { decision: 'deny', message: 'Not on my machine' } });
    const res = await answer;
    expect(res.status).toBe(200);
    expect(res.body).toEqual(denyOutput('PreToolUse', 'Not on my machine'));
  });

  it('CCH-6: bad input is 400 naming the field; no token is 401; nothing is created', async () => {
    const before = (await server.api('/api/permission-requests')).body.requests.length;
    const cases: Array<[unknown, RegExp]> = [
      ['not json', /^body: /],
      [[1, 2], /^\(root\): expected a JSON object/],
      [{ ...permissionRequest(), hook_event_name: 'Notification' }, /^hook_event_name: expected one of PermissionRequest, PreToolUse, PostToolUse/],
      [{ ...permissionRequest(), tool_name: undefined }, /tool_name/],
      [{ ...permissionRequest(), tool_input: 'rm -rf /' }, /tool_input/],
      [{ ...permissionRequest(), session_id: '' }, /session_id/],
      [{ hook_event_name: 'PostToolUse', session_id: 's', tool_name: 'Bash' }, /tool_input/],
      [{ hook_event_name: 'Stop' }, /session_id/],
    ];
    for (const [body, message] of cases) {
      const res = await hook(typeof body === 'string' ? body : body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe('invalid-message');
      expect(res.body.error.message).toMatch(message);
    }
    const badTimeout = await hook(permissionRequest(), { query: '?timeout=0' });
    expect(badTimeout.status).toBe(400);
    expect(badTimeout.body.error.message).toMatch(/^timeout: /);
    expect((await hook(permissionRequest(), { token: null })).status).toBe(401);
    expect((await server.api('/api/permission-requests')).body.requests.length).toBe(before);
  });

  it("CCH-7: the request's timeout sits below the hook's (?timeout=S): the server's timeout deny is the hook's answer, within the call", async () => {
    const input = permissionRequest();
    const from = client.frames.length;
    const started = Date.now();
    const answer = hook(input, { query: '?timeout=2' });
    const request = await requestFor(input.tool_input.command, from);
    expect(request.expiresAt - request.timestamp).toBe(1500);
    const res = await answer;
    expect(Date.now() - started).toBeLessThan(2000);
    expect(res.status).toBe(200);
    expect(res.body).toEqual(denyOutput('PermissionRequest', expect.stringMatching(/^Timed out: no decision within 1.5 s/) as unknown as string));
  });

  it('CCH-8: Claude Code disconnects while the request waits: it is cancelled (agent-aborted) and leaves every screen', async () => {
    const input = permissionRequest();
    const from = client.frames.length;
    const controller = new AbortController();
    const answer = hook(input, { signal: controller.signal }).catch((error: Error) => error);
    const request = await requestFor(input.tool_input.command, from);
    controller.abort();
    const cancelled = await cancelledEvent(request.id, from);
    expect(cancelled.reason).toBe('agent-aborted');
    expect(await answer).toBeInstanceOf(Error);
  });
});

describe('POST /api/hooks/claude: answered elsewhere', () => {
  it('CCH-9: a PostToolUse of the same session, tool and input cancels the waiting request (answered-in-terminal); the waiting hook steps aside; other requests stay', async () => {
    const input = permissionRequest();
    const otherSession = { ...input, session_id: randomUUID(), prompt_id: randomUUID() };
    const otherInput = { ...input, prompt_id: randomUUID(), tool_input: { ...input.tool_input, command: `${input.tool_input.command} # other` } };
    const from = client.frames.length;
    const waiting = hook(input);
    const others = [hook(otherSession), hook(otherInput)];
    const request = await requestFor(input.tool_input.command, from);
    const rest = await client.waitForCount((f) => f.type === 'permission-request' && f.input.command.startsWith(input.tool_input.command), 3, {});
    const post = await hook({
      session_id: input.session_id,
      hook_event_name: 'PostToolUse',
      tool_name: 'Bash',
      tool_input: { description: 'write a file', command: input.tool_input.command }, // another key order: canonical input
      tool_response: { stdout: '', stderr: '' },
      tool_use_id: 'toolu_x',
    });
    expect(post.status).toBe(200);
    expect(post.body).toEqual({});
    expect((await cancelledEvent(request.id, from)).reason).toBe('answered-in-terminal');
    const answered = await waiting;
    expect(answered.status).toBe(200);
    expect(answered.body).toEqual({}); // PermissionRequest steps aside: Claude Code's own answer stands
    expect((await server.api(`/api/permission-requests/${request.id}`)).body).toMatchObject({ status: 'cancelled', decidedBy: 'claude-code' });
    for (const other of rest.filter((f) => f.id !== request.id)) {
      expect((await server.api(`/api/permission-requests/${other.id}`)).body.status).toBe('pending');
      await server.api(`/api/permission-requests/${other.id}/decision`, { method: 'POST', json: { decision: 'deny' } });
    }
    await Promise.all(others);
  });

  it('CCH-9: PostToolUseFailure and PermissionDenied match by tool use id for PreToolUse requests; a PostToolUse of no request is just {}', async () => {
    for (const event of ['PostToolUseFailure', 'PermissionDenied'] as const) {
      const input = { ...permissionRequest(), hook_event_name: 'PreToolUse', tool_use_id: `toolu_${randomUUID()}` };
      const from = client.frames.length;
      const waiting = hook(input);
      const request = await requestFor(input.tool_input.command, from);
      // Same input, another tool use: not ours.
      const miss = await hook({
        session_id: input.session_id,
        hook_event_name: event,
        tool_name: 'Bash',
        tool_input: input.tool_input,
        tool_use_id: 'toolu_other',
        error: 'x',
        reason: 'x',
      });
      expect(miss.body).toEqual({});
      expect((await server.api(`/api/permission-requests/${request.id}`)).body.status).toBe('pending');
      const hit = await hook({
        session_id: input.session_id,
        hook_event_name: event,
        tool_name: 'Bash',
        tool_input: input.tool_input,
        tool_use_id: input.tool_use_id,
        error: 'x',
        reason: 'x',
      });
      expect(hit.body).toEqual({});
      expect((await cancelledEvent(request.id, from)).reason).toBe('answered-in-terminal');
      expect((await waiting).body.hookSpecificOutput).toMatchObject({ hookEventName: 'PreToolUse', permissionDecision: 'ask' });
    }
    const none = await hook({ session_id: randomUUID(), hook_event_name: 'PostToolUse', tool_name: 'Bash', tool_input: { command: 'ls' } });
    expect(none.status).toBe(200);
    expect(none.body).toEqual({});
  });

  it('CCH-10: Stop cancels every unresolved request of that session, and only of that session', async () => {
    const session = randomUUID();
    const a = permissionRequest({ session_id: session });
    const b = permissionRequest({ session_id: session });
    const c = permissionRequest();
    const from = client.frames.length;
    const calls = [hook(a), hook(b), hook(c)];
    const [ra, rb, rc] = await Promise.all([a, b, c].map((x) => requestFor(x.tool_input.command, from)));
    const stop = await hook({ session_id: session, hook_event_name: 'Stop', stop_hook_active: false });
    expect(stop.body).toEqual({});
    expect((await cancelledEvent(ra!.id, from)).reason).toBe('answered-in-terminal');
    expect((await cancelledEvent(rb!.id, from)).reason).toBe('answered-in-terminal');
    expect((await server.api(`/api/permission-requests/${rc!.id}`)).body.status).toBe('pending');
    await server.api(`/api/permission-requests/${rc!.id}/decision`, { method: 'POST', json: { decision: 'deny' } });
    await Promise.all(calls);
  });

  it('CCH-11: the command variant: `gatehouse hook` given a PostToolUse forwards it (pinned, agent token) and prints {}; the request is cancelled answered-in-terminal', async () => {
    const input = permissionRequest();
    const from = client.frames.length;
    const waiting = hook(input);
    const request = await requestFor(input.tool_input.command, from);
    const { command, args } = gatehouseCommand();
    const run = await runProcess(command, [...args, 'hook'], {
      stdin: JSON.stringify({
        session_id: input.session_id,
        hook_event_name: 'PostToolUse',
        tool_name: 'Bash',
        tool_input: input.tool_input,
        tool_use_id: 'toolu_cmd',
        tool_response: {},
      }),
      env: {
        PATH: process.env.PATH,
        GATEHOUSE_URL: server.baseUrl,
        GATEHOUSE_AGENT_TOKEN: server.agentToken,
        GATEHOUSE_DATA_DIR: mkdtempSync(join(tmpdir(), 'gh-cch-fwd-')),
      },
    });
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toBe('{}');
    expect((await cancelledEvent(request.id, from)).reason).toBe('answered-in-terminal');
    expect((await waiting).body).toEqual({});
  }, 20_000);
});
