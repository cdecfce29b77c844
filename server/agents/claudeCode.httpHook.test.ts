/**
 * The real Claude Code binary (2.1.332, the SDK's), offline against the fake Messages
 * API, with the settings `setup claude --http` writes: its `"type": "http"` hook calls a
 * real Gatehouse server process (`POST /api/hooks/claude`), no process per tool call.
 * Allow, deny, server down (both `onFailure` choices), and answered in the terminal.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAndJoin, type TestClient } from '../testing/index.ts';
import { claudeSettings, type HttpOnFailure } from './setup/claudeSettings.ts';
import { claudeEnv, runClaude } from './testing/claudeCli.ts';
import { oneToolUse, startFakeMessagesApi, type FakeMessagesApi } from './testing/fakeMessagesApi.ts';
import { startTestGatehouse, type TestGatehouse } from './testing/gatehouseServer.ts';
import { closedPort } from './testing/netFaults.ts';

const TIMEOUT = 30_000;
let api: FakeMessagesApi;
let gate: TestGatehouse;
let screen: TestClient;
let root: string;
const timings: string[] = [];

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'gh-claude-http-'));
  api = await startFakeMessagesApi();
  gate = await startTestGatehouse();
  ({ client: screen } = await connectAndJoin(gate.server.wsUrl()));
});
afterAll(async () => {
  if (timings.length) process.stderr.write(`claude -p runs (http hook): ${timings.join(', ')}\n`);
  await screen?.close();
  await api?.close();
  await gate?.stop();
  rmSync(root, { recursive: true, force: true });
});

let counter = 0;
/** A working folder, an output folder outside it (a write there asks), and the settings
 *  `setup claude --http` writes for this server. */
function scenario(baseUrl: string, onFailure: HttpOnFailure = 'continue') {
  counter += 1;
  const dir = join(root, `case-${counter}`);
  const cwd = join(dir, 'cwd');
  const out = join(dir, 'out');
  mkdirSync(cwd, { recursive: true });
  mkdirSync(out, { recursive: true });
  const settings = join(dir, 'settings.json');
  const written = claudeSettings({ bin: '/unused', event: 'PermissionRequest', hookTimeoutSeconds: 30, env: {}, dataDirs: [], http: { baseUrl, onFailure } });
  writeFileSync(settings, JSON.stringify(written));
  return { cwd, out, settings };
}

async function run(s: ReturnType<typeof scenario>, agentToken: string, extraArgs: string[] = []) {
  const result = await runClaude({
    args: ['-p', 'please do it', '--settings', s.settings, ...extraArgs],
    cwd: s.cwd,
    env: claudeEnv(api.url, { GATEHOUSE_AGENT_TOKEN: agentToken }),
    timeoutMs: TIMEOUT,
  });
  timings.push(`${result.ms} ms`);
  return result;
}

const pendingFor = (command: string, from: number) =>
  screen.waitFor((f) => f.type === 'permission-request' && f.input.command === command, { fromIndex: from, timeoutMs: 20_000 });

describe('Claude Code with the --http hook through a real Gatehouse', () => {
  it(
    'CCH-12: allow in Gatehouse: the command runs; the request came from the http hook with the session and folder',
    async () => {
      const s = scenario(gate.url);
      const command = `echo allowed > ${s.out}/allow.txt`;
      api.setScript(oneToolUse('Bash', { command, description: 'write a file' }));
      const from = screen.frames.length;
      const running = run(s, gate.agentToken);
      const request = await pendingFor(command, from);
      expect(request.context).toMatchObject({ agent: 'claude-code-hook', hookEvent: 'PermissionRequest', cwd: s.cwd });
      await gate.human.decide(request.id, { decision: 'allow' });
      const result = await running;
      expect(result.code).toBe(0);
      expect(readFileSync(join(s.out, 'allow.txt'), 'utf8').trim()).toBe('allowed');
      // Claude Code's own PostToolUse and Stop hooks came too: they leave a decided request alone.
      expect((await gate.human.get(request.id)).status).toBe('resolved');
    },
    TIMEOUT,
  );

  it(
    'CCH-12: deny in Gatehouse: nothing runs and the model receives the reason',
    async () => {
      const s = scenario(gate.url);
      const command = `echo denied > ${s.out}/deny.txt`;
      api.setScript(oneToolUse('Bash', { command, description: 'write a file' }));
      const from = screen.frames.length;
      const running = run(s, gate.agentToken);
      const request = await pendingFor(command, from);
      await gate.human.decide(request.id, { decision: 'deny', message: 'Not over HTTP, thanks' });
      const result = await running;
      expect(result.code).toBe(0);
      expect(existsSync(join(s.out, 'deny.txt'))).toBe(false);
      const toolResult = api.toolResultForCommand(command);
      expect(toolResult?.isError).toBe(true);
      expect(toolResult?.text).toContain('Not over HTTP, thanks');
    },
    TIMEOUT,
  );

  it(
    'AGX-9: "Deny and stop the turn" chosen on the card: nothing runs and Claude Code stops the turn (the model is not asked again with the deny)',
    async () => {
      const s = scenario(gate.url);
      const command = `echo stopped > ${s.out}/interrupt.txt`;
      api.setScript(oneToolUse('Bash', { command, description: 'write a file' }));
      const from = screen.frames.length;
      const running = run(s, gate.agentToken);
      const request = await pendingFor(command, from);
      expect(request.context.agentChoices).toEqual([expect.objectContaining({ id: 'deny-interrupt', kind: 'reject_once', stopsTurn: true })]);
      expect((await gate.human.decide(request.id, { decision: 'deny', message: 'Stop here', agentChoice: 'deny-interrupt' })).status).toBe(200);
      await running;
      expect(existsSync(join(s.out, 'interrupt.txt'))).toBe(false);
      // A plain deny goes back to the model as the tool's error (CCH-12); an interrupt ends the turn first.
      expect(api.toolResultForCommand(command)).toBeUndefined();
    },
    TIMEOUT,
  );

  it(
    'CCH-13: server down, onFailure "continue": Claude Code steps back to its own dialog (in -p: its own deny), nothing runs; "block": denied saying why',
    async () => {
      const down = `http://127.0.0.1:${await closedPort()}`;
      const open = scenario(down, 'continue');
      const command = `echo x > ${open.out}/down.txt`;
      api.setScript(oneToolUse('Bash', { command, description: 'write a file' }));
      const result = await run(open, 'agent-token-0123456789abcdef');
      expect(result.code).toBe(0);
      expect(existsSync(join(open.out, 'down.txt'))).toBe(false);
      const stepped = api.toolResultForCommand(command);
      expect(stepped?.isError).toBe(true);
      expect(stepped?.text).not.toMatch(/onFailure/);

      const closed = scenario(down, 'block');
      const blockedCommand = `echo x > ${closed.out}/blocked.txt`;
      api.setScript(oneToolUse('Bash', { command: blockedCommand, description: 'write a file' }));
      const blockedRun = await run(closed, 'agent-token-0123456789abcdef');
      expect(blockedRun.code).toBe(0);
      expect(existsSync(join(closed.out, 'blocked.txt'))).toBe(false);
      const blocked = api.toolResultForCommand(blockedCommand);
      expect(blocked?.isError).toBe(true);
      expect(blocked?.text).toMatch(/blocking because onFailure is "block"/);
    },
    TIMEOUT * 2,
  );

  it(
    'CCH-14: answered in the terminal while the http hook waits: the request ends cancelled answered-in-terminal, a screen sees it, the hook steps aside',
    async () => {
      const s = scenario(gate.url);
      const command = `echo terminal > ${s.out}/terminal.txt`;
      api.setScript(oneToolUse('Bash', { command, description: 'write a file' }));
      const from = screen.frames.length;
      const running = run(s, gate.agentToken);
      const request = await pendingFor(command, from);
      // -p mode has no terminal dialog: send what Claude Code sends once the human has
      // answered it (its PostToolUse for this session, tool and input).
      const post = await gate.server.api('/api/hooks/claude', {
        method: 'POST',
        token: gate.agentToken,
        json: {
          session_id: request.context.sessionId,
          hook_event_name: 'PostToolUse',
          tool_name: 'Bash',
          tool_input: request.input,
          tool_use_id: 'toolu_terminal',
          tool_response: {},
        },
      });
      expect(post.body).toEqual({});
      const cancelled = await screen.waitFor((f) => f.type === 'permission-cancelled' && f.requestId === request.id, { fromIndex: from });
      expect(cancelled.reason).toBe('answered-in-terminal');
      const result = await running;
      expect(result.code).toBe(0);
      expect((await gate.human.get(request.id)).status).toBe('cancelled');
      // The hook stepped aside ({}), so Gatehouse allowed nothing: -p mode's own deny.
      expect(existsSync(join(s.out, 'terminal.txt'))).toBe(false);
    },
    TIMEOUT,
  );

  it(
    "CCH-14: Claude Code's own PostToolUse hook cancels a request that Claude Code answered by itself (here its default mode runs a read-only command unasked)",
    async () => {
      const s = scenario(gate.url);
      const session = randomUUID();
      const input = { command: 'ls', description: `list the folder ${counter}` };
      // The request a PermissionRequest hook made while Claude Code answered on its own.
      const from = screen.frames.length;
      const asking = gate.server.api('/api/hooks/claude?timeout=30', {
        method: 'POST',
        token: gate.agentToken,
        json: { session_id: session, cwd: s.cwd, prompt_id: randomUUID(), hook_event_name: 'PermissionRequest', tool_name: 'Bash', tool_input: input },
      });
      const request = await screen.waitFor((f) => f.type === 'permission-request' && f.input.description === input.description, { fromIndex: from });
      api.setScript(oneToolUse('Bash', input));
      const result = await run(s, gate.agentToken, ['--session-id', session]);
      expect(result.code).toBe(0);
      expect(api.toolResults().some((r) => !r.isError)).toBe(true);
      const cancelled = await screen.waitFor((f) => f.type === 'permission-cancelled' && f.requestId === request.id, { fromIndex: from });
      expect(cancelled.reason).toBe('answered-in-terminal');
      expect((await asking).body).toEqual({});
    },
    TIMEOUT,
  );
});
