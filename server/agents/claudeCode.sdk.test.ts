/**
 * Chat sessions with the Claude Agent SDK: the real Claude Code binary (spawned by the
 * SDK inside a real Gatehouse server process) against the fake Messages API.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAndJoin, startServerProcess, type ServerProcess, type TestClient } from '../testing/index.ts';
import { oneToolUse, startFakeMessagesApi, type FakeMessagesApi } from './testing/fakeMessagesApi.ts';
import { httpHuman, type Human } from './testing/human.ts';

const REQUEST_TIMEOUT_MS = 4000;
let api: FakeMessagesApi;
let server: ServerProcess;
let human: Human;
let watcher: TestClient;
let root: string;
let counter = 0;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'gh-sdk-'));
  api = await startFakeMessagesApi();
  const home = join(root, 'home');
  mkdirSync(home);
  server = await startServerProcess({
    args: ['--agent', 'claude', '--request-timeout', String(REQUEST_TIMEOUT_MS)],
    env: {
      HOME: home,
      ANTHROPIC_BASE_URL: api.url,
      ANTHROPIC_API_KEY: 'dummy',
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      GATEHOUSE_CLAUDE_MODEL: 'fake-model',
      GATEHOUSE_SESSION_ROOTS: root,
    },
  });
  human = httpHuman(server.baseUrl, server.token);
  watcher = (await connectAndJoin(server.wsUrl())).client;
});
afterAll(async () => {
  watcher?.terminate();
  await server?.stop();
  await api?.close();
  rmSync(root, { recursive: true, force: true });
});

function scenario() {
  counter += 1;
  const cwd = join(root, `case-${counter}`, 'cwd');
  const out = join(root, `case-${counter}`, 'out');
  mkdirSync(cwd, { recursive: true });
  mkdirSync(out, { recursive: true });
  return { cwd, out };
}

async function startSession(cwd: string) {
  const started = await server.api('/api/sessions', { method: 'POST', json: { prompt: 'please write the file', cwd } });
  expect(started.status).toBe(201);
  return started.body.session as { id: string; agent: string };
}

/** The turn's messages, once the WebSocket says the turn ended and the session is idle. */
async function turnEnded(sessionId: string, timeoutMs = 20_000) {
  const end = await watcher.waitFor((f) => f.type === 'chat-message' && f.sessionId === sessionId && (f.message as { kind: string }).kind === 'turn-end', {
    timeoutMs,
  });
  await watcher.waitFor(
    (f) =>
      f.type === 'session-updated' &&
      (f.session as { id: string; status: string }).id === sessionId &&
      (f.session as { status: string }).status === 'idle' &&
      (f.seq as number) > (end.seq as number),
    { timeoutMs },
  );
  const history = await server.api(`/api/sessions/${sessionId}/messages`);
  return (history.body.messages as Array<{ message: { kind: string; text?: string; isError?: boolean; requestId?: string } }>).map((m) => m.message);
}

describe('Claude Agent SDK sessions through Gatehouse', () => {
  it("AGT-7: a session may start only inside the allowed folders (the server's own, GATEHOUSE_SESSION_ROOTS); never /, and never a folder chosen for the demo agent", async () => {
    for (const cwd of ['/', tmpdir(), join(root, '..')]) {
      const refused = await server.api('/api/sessions', { method: 'POST', json: { prompt: 'x', cwd } });
      expect(refused.status, cwd).toBe(400);
      expect(refused.body.error.message).toMatch(/cwd: must be inside/);
    }
    const demo = await server.api('/api/sessions', { method: 'POST', json: { prompt: 'x', agent: 'demo', cwd: root } });
    expect(demo.status).toBe(400);
    expect(demo.body.error.message).toMatch(/demo agent works only in its own scratch workspace/);
  });

  it('AGT-1: allow: the file is written; the request carries the session context', async () => {
    const s = scenario();
    const command = `echo allowed > ${s.out}/allow.txt`;
    api.setScript(oneToolUse('Bash', { command, description: 'Write a file' }));
    const session = await startSession(s.cwd);
    expect(session.agent).toBe('claude');
    const request = await human.nextPending();
    expect(request.context).toMatchObject({ sessionId: session.id, agent: 'claude', cwd: s.cwd });
    expect(String(request.context.toolUseId)).toMatch(/^toolu_/);
    await human.decide(request.id, { decision: 'allow' });
    const messages = await turnEnded(session.id);
    expect(readFileSync(join(s.out, 'allow.txt'), 'utf8').trim()).toBe('allowed');
    expect(messages.map((m) => m.kind)).toEqual(expect.arrayContaining(['text', 'tool-use', 'tool-result', 'turn-end']));
    expect(messages.find((m) => m.kind === 'tool-result')?.requestId).toBe(request.id);
  }, 30_000);

  it('AGT-1: deny with a reason: nothing is written; the model receives the reason as an error tool result', async () => {
    const s = scenario();
    const command = `echo denied > ${s.out}/deny.txt`;
    api.setScript(oneToolUse('Bash', { command, description: 'Write a file' }));
    const session = await startSession(s.cwd);
    const request = await human.nextPending();
    await human.decide(request.id, { decision: 'deny', message: 'Please do not write there' });
    await turnEnded(session.id);
    expect(existsSync(join(s.out, 'deny.txt'))).toBe(false);
    expect(api.toolResultForCommand(command)).toMatchObject({ isError: true });
    expect(api.toolResultForCommand(command)?.text).toContain('Please do not write there');
  }, 30_000);

  it('AGT-1: edited input: the edited command runs', async () => {
    const s = scenario();
    const command = `echo original > ${s.out}/original.txt`;
    api.setScript(oneToolUse('Bash', { command, description: 'Write a file' }));
    const session = await startSession(s.cwd);
    const request = await human.nextPending();
    await human.decide(request.id, { decision: 'allow', updatedInput: { ...request.input, command: `echo edited > ${s.out}/edited.txt` } });
    await turnEnded(session.id);
    expect(existsSync(join(s.out, 'original.txt'))).toBe(false);
    expect(readFileSync(join(s.out, 'edited.txt'), 'utf8').trim()).toBe('edited');
  }, 30_000);

  it('AGT-2: the agent cancels (the turn is stopped): the request ends cancelled', async () => {
    const s = scenario();
    api.setScript(oneToolUse('Bash', { command: `echo x > ${s.out}/cancel.txt`, description: 'Write a file' }));
    const session = await startSession(s.cwd);
    const request = await human.nextPending();
    const stopped = await server.api(`/api/sessions/${session.id}/stop`, { method: 'POST' });
    expect(stopped.body.stopped).toBe(true);
    const view = await server.api(`/api/permission-requests/${request.id}?wait=10`);
    expect(view.body.status).toBe('cancelled');
    await turnEnded(session.id);
    expect(existsSync(join(s.out, 'cancel.txt'))).toBe(false);
  }, 30_000);

  it('AGT-3: timeout: the model receives the timeout deny', async () => {
    const s = scenario();
    const command = `echo late > ${s.out}/late.txt`;
    api.setScript(oneToolUse('Bash', { command, description: 'Write a file' }));
    const session = await startSession(s.cwd);
    const request = await human.nextPending();
    const view = await server.api(`/api/permission-requests/${request.id}?wait=10`);
    expect(view.body.status).toBe('timedOut');
    await turnEnded(session.id);
    expect(existsSync(join(s.out, 'late.txt'))).toBe(false);
    expect(api.toolResultForCommand(command)?.isError).toBe(true);
    expect(api.toolResultForCommand(command)?.text).toMatch(/timed out/i);
  }, 30_000);
});
