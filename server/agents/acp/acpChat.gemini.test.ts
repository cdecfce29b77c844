/**
 * `serve --agent 'acp:gemini --acp …'`: chat sessions driven by the real Gemini CLI
 * (pinned, from the agent cache), offline against the fake Gemini API, through a real
 * server process; the test decides on the WebSocket like a browser does. One server and
 * one agent process for the file.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, startServerProcess, type Frame, type ServerProcess, type TestClient } from '../../testing/index.ts';
import { installAgent } from '../testing/agentInstall.ts';
import { lastParts, startFakeGeminiApi, type FakeGeminiApi } from '../testing/fakeGeminiApi.ts';
import { commandOfPrompt, runPrompt } from './testing/acpProxySuite.ts';

let api: FakeGeminiApi;
let server: ServerProcess;
let ws: TestClient;
let root: string;
let agentKind: string;
const fileStarted = Date.now();
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

beforeAll(async () => {
  const t = Date.now();
  root = mkdtempSync(join(tmpdir(), 'gh-acp-chat-'));
  mkdirSync(join(root, 'home'));
  const { bin } = await installAgent('gemini');
  api = await startFakeGeminiApi((request) => {
    const parts = lastParts(request);
    if (parts.some((part) => part.functionResponse)) return [{ text: 'FAKE: ' }, { text: 'command finished.' }];
    const command = parts.map((part) => (part.text ? commandOfPrompt(part.text) : undefined)).find(Boolean);
    if (!command) return [{ text: 'Hello.' }];
    return [{ text: 'I will run it.' }, { functionCall: { name: 'run_shell_command', args: { command, description: 'acp chat test' } } }];
  });
  agentKind = `acp:'${bin}' --acp -m gemini-2.5-flash`;
  server = await startServerProcess({ args: ['--agent', agentKind], env: { GEMINI_API_KEY: 'fake', GOOGLE_GEMINI_BASE_URL: api.url, HOME: join(root, 'home') } });
  ws = await connectClient(server.wsUrl());
  await ws.waitFor((frame) => frame.type === 'welcome');
  console.log(`[acp chat gemini] agent installed, fake model and server up in ${seconds(Date.now() - t)}`);
}, 240_000);

afterAll(async () => {
  await ws?.close();
  await server?.stop();
  await api?.close();
  if (root) rmSync(root, { recursive: true, force: true });
  console.log(`[acp chat gemini] whole file in ${seconds(Date.now() - fileStarted)}`);
});

const chatOf = (sessionId: string) => (frame: Frame) => frame.type === 'chat-message' && frame.sessionId === sessionId;

async function turn(sessionId: string | undefined, command: string) {
  const body = { prompt: runPrompt(command) };
  const answer = sessionId ? await server.api(`/api/sessions/${sessionId}/messages`, { method: 'POST', json: body }) : await server.api('/api/sessions', { method: 'POST', json: body });
  expect(answer.status).toBe(sessionId ? 202 : 201);
  const id: string = answer.body.session.id;
  const from = ws.frames.length;
  const request = await ws.waitFor((frame) => frame.type === 'permission-request' && frame.context?.sessionId === id, { timeoutMs: 30_000, fromIndex: from });
  return { id, request, from };
}

describe('--agent acp:CMD chat sessions (real Gemini CLI)', () => {
  let sessionId: string;

  it('ACP-12: a turn asks through the broker (agent acp:…); allowed on the socket, the command runs; whole messages in order', async () => {
    const t = Date.now();
    const marker = join(root, 'allowed');
    const { id, request, from } = await turn(undefined, `touch ${marker}`);
    sessionId = id;
    expect(request.toolName).toBe('Bash');
    expect(request.input).toEqual({ command: `touch ${marker}` });
    expect(request.context.agent).toBe(agentKind);
    expect(String(request.context.agent).startsWith('acp:')).toBe(true);
    ws.send({ type: 'permission-response', requestId: request.id, decision: 'allow', clientMsgId: crypto.randomUUID() });
    await ws.waitFor((frame) => chatOf(id)(frame) && frame.message.kind === 'turn-end', { timeoutMs: 30_000, fromIndex: from });
    expect(existsSync(marker)).toBe(true);
    const messages = ws.frames.filter(chatOf(id)).map((frame) => frame.message);
    expect(messages.map((m) => m.kind)).toEqual(['text', 'text', 'tool-use', 'tool-result', 'text', 'turn-end']);
    expect(messages[0]).toMatchObject({ role: 'user', text: runPrompt(`touch ${marker}`) });
    expect(messages[1]).toMatchObject({ role: 'assistant', text: 'I will run it.' });
    expect(messages[2]).toMatchObject({ toolName: 'Bash', input: { command: `touch ${marker}` } });
    expect(messages[3]).toMatchObject({ kind: 'tool-result', isError: false, requestId: request.id, toolUseId: messages[2].toolUseId });
    // Streamed chunks arrive as one whole message.
    expect(messages[4]).toMatchObject({ role: 'assistant', text: 'FAKE: command finished.' });
    console.log(`[acp chat gemini] allow turn in ${seconds(Date.now() - t)}`);
  });

  it('ACP-12: the next turn of the session reuses the agent; denied, the command does not run', async () => {
    const t = Date.now();
    const marker = join(root, 'denied');
    const { id, request, from } = await turn(sessionId, `touch ${marker}`);
    expect(id).toBe(sessionId);
    ws.send({ type: 'permission-response', requestId: request.id, decision: 'deny', message: 'no', clientMsgId: crypto.randomUUID() });
    await ws.waitFor((frame) => chatOf(id)(frame) && frame.message.kind === 'turn-end', { timeoutMs: 30_000, fromIndex: from });
    expect(existsSync(marker)).toBe(false);
    console.log(`[acp chat gemini] deny turn in ${seconds(Date.now() - t)}`);
  });

  it('ACP-12: stopping the turn cancels its request and the agent\'s prompt; nothing runs', async () => {
    const marker = join(root, 'stopped');
    const { id, request, from } = await turn(sessionId, `touch ${marker}`);
    expect((await server.api(`/api/sessions/${id}/stop`, { method: 'POST' })).body).toMatchObject({ stopped: true });
    await ws.waitFor((frame) => frame.type === 'permission-cancelled' && frame.requestId === request.id, { timeoutMs: 10_000, fromIndex: from });
    const end = await ws.waitFor((frame) => chatOf(id)(frame) && frame.message.kind === 'turn-end', { timeoutMs: 30_000, fromIndex: from });
    expect(end.message.text).toContain('cancelled');
    expect(existsSync(marker)).toBe(false);
  });

  it('ACP-13: a browser cannot pick another command or an inherited name as the agent', async () => {
    for (const agent of ['acp:sh -c "touch /tmp/pwned"', 'constructor', 'toString', 'acp:']) {
      const answer = await server.api('/api/sessions', { method: 'POST', json: { prompt: 'hi', agent } });
      expect(answer.status, agent).toBe(400);
      expect(answer.body.error.message).toContain('not available');
    }
  });
});
