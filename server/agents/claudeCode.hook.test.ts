/**
 * The real Claude Code binary, offline against the fake Messages API, with
 * `gatehouse hook` wired through `--settings`, asking a Gatehouse (claude-code-offline.md).
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claudeEnv, runClaude } from './testing/claudeCli.ts';
import { oneToolUse, startFakeMessagesApi, type FakeMessagesApi } from './testing/fakeMessagesApi.ts';
import { gatehouseCommandLine } from './testing/gatehouseCli.ts';
import { startTestGatehouse, type TestGatehouse } from './testing/gatehouseServer.ts';
import { closedPort, startSilentServer } from './testing/netFaults.ts';

const TIMEOUT = 30_000;
let api: FakeMessagesApi;
let gate: TestGatehouse;
let root: string;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'gh-claude-hook-'));
  api = await startFakeMessagesApi();
  gate = await startTestGatehouse();
});
afterAll(async () => {
  await api?.close();
  await gate?.stop();
  rmSync(root, { recursive: true, force: true });
});

type Event = 'PermissionRequest' | 'PreToolUse';
let counter = 0;

/** A fresh working folder, an output folder outside it (so a write there asks), a
 *  settings file wiring the hook through a wrapper that logs its start and end times. */
function scenario(event: Event) {
  counter += 1;
  const dir = join(root, `case-${counter}`);
  const cwd = join(dir, 'cwd');
  const out = join(dir, 'out');
  mkdirSync(cwd, { recursive: true });
  mkdirSync(out, { recursive: true });
  const times = join(dir, 'hook-times');
  const wrapper = join(dir, 'hook.sh');
  writeFileSync(
    wrapper,
    `#!/bin/sh\ndate +%s%3N >> '${times}'\n${gatehouseCommandLine('hook', '--timeout', '30')}\nrc=$?\ndate +%s%3N >> '${times}'\nexit $rc\n`,
  );
  chmodSync(wrapper, 0o755);
  const settings = join(dir, 'settings.json');
  writeFileSync(settings, JSON.stringify({ hooks: { [event]: [{ matcher: '*', hooks: [{ type: 'command', command: wrapper, timeout: 30 }] }] } }));
  const hookDurations = () => {
    if (!existsSync(times)) return [];
    const stamps = readFileSync(times, 'utf8').trim().split('\n').map(Number);
    const durations: number[] = [];
    for (let i = 0; i + 1 < stamps.length; i += 2) durations.push(stamps[i + 1]! - stamps[i]!);
    return durations;
  };
  return { cwd, out, settings, hookDurations };
}

function run(s: ReturnType<typeof scenario>, gatehouseEnv: Record<string, string>) {
  return runClaude({ args: ['-p', 'please do it', '--settings', s.settings], cwd: s.cwd, env: claudeEnv(api.url, gatehouseEnv), timeoutMs: TIMEOUT });
}

const envFor = (g: { url: string; agentToken: string; dataDir: string }) => ({
  GATEHOUSE_URL: g.url,
  GATEHOUSE_AGENT_TOKEN: g.agentToken,
  GATEHOUSE_DATA_DIR: g.dataDir,
});

describe.each<Event>(['PermissionRequest', 'PreToolUse'])('Claude Code %s hook through Gatehouse', (event) => {
  it(
    `HOOK-1: ${event} allow: the command runs`,
    async () => {
      const s = scenario(event);
      const command = `echo allowed > ${s.out}/allow.txt`;
      api.setScript(oneToolUse('Bash', { command, description: 'write a file' }));
      const running = run(s, envFor(gate));
      const request = await gate.human.nextPending();
      expect(request.toolName).toBe('Bash');
      expect(request.input.command).toBe(command);
      expect(request.context).toMatchObject({ agent: 'claude-code-hook', cwd: s.cwd });
      expect(typeof request.context.sessionId).toBe('string');
      await gate.human.decide(request.id, { decision: 'allow' });
      const result = await running;
      expect(result.code).toBe(0);
      expect(readFileSync(join(s.out, 'allow.txt'), 'utf8').trim()).toBe('allowed');
    },
    TIMEOUT,
  );

  it(
    `HOOK-1: ${event} deny: nothing runs and the model receives the reason`,
    async () => {
      const s = scenario(event);
      const command = `echo denied > ${s.out}/deny.txt`;
      api.setScript(oneToolUse('Bash', { command, description: 'write a file' }));
      const running = run(s, envFor(gate));
      const request = await gate.human.nextPending();
      await gate.human.decide(request.id, { decision: 'deny', message: 'Not today, thanks' });
      const result = await running;
      expect(result.code).toBe(0);
      expect(existsSync(join(s.out, 'deny.txt'))).toBe(false);
      const toolResult = api.toolResultForCommand(command);
      expect(toolResult?.isError).toBe(true);
      expect(toolResult?.text).toContain('Not today, thanks');
    },
    TIMEOUT,
  );

  it(
    `HOOK-1: ${event} edited input: the edited command runs`,
    async () => {
      const s = scenario(event);
      const command = `echo original > ${s.out}/original.txt`;
      api.setScript(oneToolUse('Bash', { command, description: 'write a file' }));
      const running = run(s, envFor(gate));
      const request = await gate.human.nextPending();
      await gate.human.decide(request.id, { decision: 'allow', updatedInput: { ...request.input, command: `echo edited > ${s.out}/edited.txt` } });
      await running;
      expect(existsSync(join(s.out, 'original.txt'))).toBe(false);
      expect(readFileSync(join(s.out, 'edited.txt'), 'utf8').trim()).toBe('edited');
    },
    TIMEOUT,
  );
});

describe('Claude Code hook when Gatehouse is not there', () => {
  it(
    'HOOK-5: server down: the PermissionRequest hook steps aside within 3 s (Claude Code decides alone)',
    async () => {
      const s = scenario('PermissionRequest');
      const port = await closedPort();
      const dataDir = join(root, 'down-data');
      const command = `echo x > ${s.out}/down.txt`;
      api.setScript(oneToolUse('Bash', { command, description: 'write a file' }));
      const result = await run(s, {
        GATEHOUSE_URL: `http://127.0.0.1:${port}`,
        GATEHOUSE_AGENT_TOKEN: 'agent-token-0123456789abcdef',
        GATEHOUSE_DATA_DIR: dataDir,
      });
      expect(result.code).toBe(0);
      expect(s.hookDurations()).toHaveLength(1);
      expect(s.hookDurations()[0]).toBeLessThan(3000);
      // With no decision from the hook, -p mode has nobody to ask: Claude Code's own deny.
      expect(existsSync(join(s.out, 'down.txt'))).toBe(false);
      expect(api.toolResultForCommand(command)?.isError).toBe(true);
    },
    TIMEOUT,
  );

  it(
    'HOOK-5/HOOK-8: a server that never answers: PreToolUse steps aside within 3 s; the breaker skips it next time and recovers when it is back',
    async () => {
      const dataDir = join(root, 'silent-data');
      const silent = await startSilentServer();
      const env = { GATEHOUSE_URL: silent.url, GATEHOUSE_AGENT_TOKEN: gate.agentToken, GATEHOUSE_DATA_DIR: dataDir };
      try {
        const first = scenario('PreToolUse');
        api.setScript(oneToolUse('Bash', { command: `echo x > ${first.out}/silent.txt`, description: 'write' }));
        await run(first, env);
        expect(first.hookDurations()[0]).toBeLessThan(3000);
        expect(silent.connections()).toBe(1);
        expect(existsSync(join(first.out, 'silent.txt'))).toBe(false);

        const second = scenario('PreToolUse');
        api.setScript(oneToolUse('Bash', { command: `echo x > ${second.out}/skip.txt`, description: 'write' }));
        await run(second, env);
        expect(silent.connections()).toBe(1); // skipped: no connection at all
        expect(second.hookDurations()[0]).toBeLessThan(1500);
      } finally {
        await silent.close();
      }
      // The server is back on the same address; the cool-down has passed (time is an input:
      // move the breaker's deadline instead of sleeping).
      const back = await startTestGatehouse({ port: silent.port, dataDir: join(root, 'back-data') });
      try {
        const breakerPath = join(dataDir, 'hook-breaker.json');
        const state = JSON.parse(readFileSync(breakerPath, 'utf8'));
        writeFileSync(breakerPath, JSON.stringify({ ...state, openUntil: Date.now() - 1 }));
        const third = scenario('PreToolUse');
        api.setScript(oneToolUse('Bash', { command: `echo back > ${third.out}/back.txt`, description: 'write' }));
        const running = run(third, { ...env, GATEHOUSE_AGENT_TOKEN: back.agentToken });
        const request = await back.human.nextPending();
        await back.human.decide(request.id, { decision: 'allow' });
        await running;
        expect(readFileSync(join(third.out, 'back.txt'), 'utf8').trim()).toBe('back');
        expect(existsSync(breakerPath)).toBe(false);
      } finally {
        await back.stop();
      }
    },
    TIMEOUT * 2,
  );
});
