/**
 * `serve --agent codex`: chat sessions through the real `codex app-server` 0.171
 * (offline, fake Responses API), one real server process for the file; the test decides
 * on the WebSocket like a browser does. Each phase prints its timing.
 */
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, startServerProcess, type Frame, type ServerProcess, type TestClient } from '../../testing/index.ts';
import { FINAL_TEXT, JUSTIFICATION, patchPrompt, runPrompt, startCodexUnderTest, type CodexUnderTest } from './testing/codexUnderTest.ts';

const TEST_TIMEOUT = 60_000;
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

describe('--agent codex chat sessions (real codex app-server)', () => {
  let codex: CodexUnderTest;
  let server: ServerProcess;
  let ws: TestClient;
  let work: string;
  let outside: string;
  let sessionId: string | undefined;
  const fileStarted = Date.now();

  beforeAll(async () => {
    const t = Date.now();
    work = realpathSync(mkdtempSync(join(tmpdir(), 'gh-codex-chat-')));
    outside = realpathSync(mkdtempSync(join(tmpdir(), 'gh-codex-outside-')));
    codex = await startCodexUnderTest();
    server = await startServerProcess({ args: ['--agent', 'codex', '--codex-bin', codex.bin], env: { ...codex.env, GATEHOUSE_SESSION_ROOTS: work } });
    ws = await connectClient(server.wsUrl());
    await ws.waitFor((frame) => frame.type === 'welcome');
    console.log(`[codex chat] codex installed, fake model and server up in ${seconds(Date.now() - t)}`);
  }, 240_000);

  afterAll(async () => {
    await ws?.close();
    await server?.stop();
    await codex?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
    if (outside) rmSync(outside, { recursive: true, force: true });
    console.log(`[codex chat] whole file in ${seconds(Date.now() - fileStarted)}`);
  });

  const chatOf = (id: string) => (frame: Frame) => frame.type === 'chat-message' && frame.sessionId === id;

  async function turn(prompt: string) {
    const from = ws.frames.length;
    const answer = sessionId
      ? await server.api(`/api/sessions/${sessionId}/messages`, { method: 'POST', json: { prompt } })
      : await server.api('/api/sessions', { method: 'POST', json: { prompt, cwd: work } });
    expect(answer.status, answer.text).toBe(sessionId ? 202 : 201);
    const id: string = answer.body.session.id;
    sessionId = id;
    const request = await ws.waitFor((frame) => frame.type === 'permission-request' && frame.context?.sessionId === id, { timeoutMs: 30_000, fromIndex: from });
    return { id, request, from };
  }
  const turnEnd = (id: string, from: number) =>
    ws.waitFor((frame) => chatOf(id)(frame) && frame.message.kind === 'turn-end', { timeoutMs: 30_000, fromIndex: from });
  const decide = (request: Frame, decision: 'allow' | 'deny', extra: Record<string, unknown> = {}) =>
    ws.send({ type: 'permission-response', requestId: request.id, decision, clientMsgId: crypto.randomUUID(), ...extra });

  it(
    "CODEX-5: a command approval becomes a request (agent codex, reason, command, cwd, Codex's decisions); allowed, it runs (accept); whole messages in order",
    async () => {
      const t = Date.now();
      const marker = join(work, 'accepted');
      // A quote inside: Codex shows `/bin/bash -lc '…'`; the request holds the script itself.
      const command = `touch ${marker} && echo "it's done"`;
      const { id, request, from } = await turn(runPrompt(command));
      expect(request.toolName).toBe('Bash');
      expect(request.input.command).toBe(command);
      expect(request.context.codexCommand).toMatch(/^\/bin\/bash -lc ["']/);
      expect(request.input).toEqual({ command: expect.any(String), description: JUSTIFICATION });
      expect(request.context).toMatchObject({
        agent: 'codex',
        sessionId: id,
        cwd: work,
        reason: JUSTIFICATION,
        codexMethod: 'item/commandExecution/requestApproval',
      });
      expect(request.context.availableDecisions).toContain('accept');
      decide(request, 'allow');
      await turnEnd(id, from);
      expect(existsSync(marker)).toBe(true);
      const messages = ws.frames
        .slice(from)
        .filter(chatOf(id))
        .map((frame) => frame.message);
      expect(messages.map((m) => m.kind)).toEqual(['text', 'tool-use', 'tool-result', 'text', 'turn-end']);
      expect(messages[1]).toMatchObject({ role: 'assistant', toolName: 'Bash' });
      expect(messages[2]).toMatchObject({ isError: false, requestId: request.id, toolUseId: messages[1].toolUseId });
      expect(messages[3]).toMatchObject({ role: 'assistant', text: FINAL_TEXT });
      expect(messages[4].text).toBe('The turn ended.');
      console.log(`[codex chat] accept turn in ${seconds(Date.now() - t)}`);
    },
    TEST_TIMEOUT,
  );

  it(
    'CODEX-6: denied, the command does not run (decline) and the turn goes on in the same thread',
    async () => {
      const t = Date.now();
      const marker = join(work, 'declined');
      const { id, request, from } = await turn(runPrompt(`touch ${marker}`));
      decide(request, 'deny', { message: 'no' });
      await turnEnd(id, from);
      expect(existsSync(marker)).toBe(false);
      const messages = ws.frames
        .slice(from)
        .filter(chatOf(id))
        .map((frame) => frame.message);
      expect(messages.find((m) => m.kind === 'tool-result')).toMatchObject({ isError: true, requestId: request.id });
      expect(messages.at(-1).text).toBe('The turn ended.');
      console.log(`[codex chat] decline turn in ${seconds(Date.now() - t)}`);
    },
    TEST_TIMEOUT,
  );

  it(
    'CODEX-6: "always allow" for the session is a Gatehouse rule: the same command again is allowed by it (accept), with no acceptForSession sent',
    async () => {
      const t = Date.now();
      const marker = join(work, 'remembered');
      const command = `touch ${marker}`;
      const first = await turn(runPrompt(command));
      decide(first.request, 'allow', { remember: { scope: 'session' } });
      await turnEnd(first.id, first.from);
      expect(existsSync(marker)).toBe(true);
      rmSync(marker);
      const from = ws.frames.length;
      expect((await server.api(`/api/sessions/${first.id}/messages`, { method: 'POST', json: { prompt: runPrompt(command) } })).status).toBe(202);
      const again = await ws.waitFor((frame) => frame.type === 'permission-request' && frame.context?.sessionId === first.id, {
        timeoutMs: 30_000,
        fromIndex: from,
      });
      const resolved = await ws.waitFor((frame) => frame.type === 'permission-resolved' && frame.requestId === again.id, {
        timeoutMs: 30_000,
        fromIndex: from,
      });
      expect(resolved.decidedBy).toMatch(/^rule:/);
      await turnEnd(first.id, from);
      expect(existsSync(marker)).toBe(true);
      console.log(`[codex chat] remembered for the session in ${seconds(Date.now() - t)}`);
    },
    TEST_TIMEOUT,
  );

  it(
    'CODEX-6: an allow with an edited input is declined: neither command runs',
    async () => {
      const t = Date.now();
      const marker = join(work, 'edited');
      const other = join(work, 'edited-other');
      const { id, request, from } = await turn(runPrompt(`touch ${marker}`));
      decide(request, 'allow', { updatedInput: { ...request.input, command: `touch ${other}` } });
      await turnEnd(id, from);
      expect(existsSync(marker)).toBe(false);
      expect(existsSync(other)).toBe(false);
      console.log(`[codex chat] edited allow in ${seconds(Date.now() - t)}`);
    },
    TEST_TIMEOUT,
  );

  it(
    'CODEX-7: a file change outside the workspace asks, showing the diff; allowed, the file is written',
    async () => {
      const t = Date.now();
      const file = join(outside, 'patched.txt');
      const { id, request, from } = await turn(patchPrompt(file));
      expect(request.toolName).toBe('apply_patch');
      expect(request.input.changes).toEqual([expect.objectContaining({ path: file, kind: 'add', diff: expect.stringContaining('hello from codex') })]);
      decide(request, 'allow');
      await turnEnd(id, from);
      expect(readFileSync(file, 'utf8')).toContain('hello from codex');
      console.log(`[codex chat] file change in ${seconds(Date.now() - t)}`);
    },
    TEST_TIMEOUT,
  );

  it(
    'CODEX-7: a file change denied is not written',
    async () => {
      const t = Date.now();
      const file = join(outside, 'refused.txt');
      const { id, request, from } = await turn(patchPrompt(file));
      expect(request.toolName).toBe('apply_patch');
      decide(request, 'deny', { message: 'no' });
      await turnEnd(id, from);
      expect(existsSync(file)).toBe(false);
      console.log(`[codex chat] file change denied in ${seconds(Date.now() - t)}`);
    },
    TEST_TIMEOUT,
  );

  it(
    'CODEX-8: stopping the turn cancels its request and interrupts Codex; nothing runs',
    async () => {
      const t = Date.now();
      const marker = join(work, 'stopped');
      const { id, request, from } = await turn(runPrompt(`touch ${marker}`));
      expect((await server.api(`/api/sessions/${id}/stop`, { method: 'POST' })).body).toMatchObject({ stopped: true });
      await ws.waitFor((frame) => frame.type === 'permission-cancelled' && frame.requestId === request.id, { timeoutMs: 10_000, fromIndex: from });
      const end = await turnEnd(id, from);
      expect(end.message.text).toContain('cancelled');
      expect(existsSync(marker)).toBe(false);
      console.log(`[codex chat] stopped turn in ${seconds(Date.now() - t)}`);
    },
    TEST_TIMEOUT,
  );
});
