import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeGatehouse, type FakeGatehouse } from '../agents/testing/fakeGatehouse.ts';
import { gatehouseCommand } from '../agents/testing/gatehouseCli.ts';
import { runProcess } from '../agents/testing/runProcess.ts';

const permissionRequest = {
  session_id: 'sess-1',
  transcript_path: '/tmp/t.jsonl',
  cwd: '/tmp',
  prompt_id: 'prompt-1',
  permission_mode: 'default',
  hook_event_name: 'PermissionRequest',
  tool_name: 'Bash',
  tool_input: { command: 'echo hi > /x/out.txt', description: 'write' },
  permission_suggestions: [],
};
const preToolUse = { ...permissionRequest, hook_event_name: 'PreToolUse', tool_use_id: 'toolu_abc', prompt_id: undefined };

/** A well-formed agent token for the runs whose server is down or silent. */
const AGENT_TOKEN = 'agent-token-0123456789abcdef';
let dataDir: string;
const dirs: string[] = [];
function freshDataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gh-hook-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function runHook(stdin: unknown, env: Record<string, string>, onSpawn?: Parameters<typeof runProcess>[2]['onSpawn']) {
  const { command, args } = gatehouseCommand();
  return runProcess(command, [...args, 'hook'], {
    stdin: typeof stdin === 'string' ? stdin : JSON.stringify(stdin),
    env: { PATH: process.env.PATH, HOME: dataDir, GATEHOUSE_DATA_DIR: dataDir, ...env },
    ...(onSpawn ? { onSpawn } : {}),
  });
}

/** A TCP server that accepts connections and never answers. */
async function silentServer(): Promise<{ url: string; connections: () => number; close: () => Promise<void> }> {
  const sockets: Socket[] = [];
  const server: Server = createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    connections: () => sockets.length,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

describe('gatehouse hook (process, against an HTTP stand-in)', () => {
  let gate: FakeGatehouse;
  beforeAll(async () => {
    gate = await startFakeGatehouse();
  });
  afterAll(async () => {
    await gate.close();
  });
  afterEach(() => {
    dataDir = '';
  });

  it('HOOK-1: a PermissionRequest allow prints the PermissionRequest allow shape, with the edited input', async () => {
    dataDir = freshDataDir();
    const hellosBefore = gate.hellos();
    const running = runHook(permissionRequest, { GATEHOUSE_URL: gate.url, GATEHOUSE_AGENT_TOKEN: gate.token });
    const request = await gate.nextRequest();
    expect(request.context).toMatchObject({ sessionId: 'sess-1', agent: 'claude-code-hook', cwd: '/tmp' });
    gate.decide(request.id, 'allow', { updatedInput: { command: 'echo edited' } });
    const run = await running;
    expect(JSON.parse(run.stdout)).toEqual({
      hookSpecificOutput: { hookEventName: 'PermissionRequest', decision: { behavior: 'allow', updatedInput: { command: 'echo edited' } } },
    });
    expect(run.stdout.trim().split('\n')).toHaveLength(1);
    // One hello per process, before the token went out.
    expect(gate.hellos()).toBe(hellosBefore + 1);
  });

  it('HOOK-1: a PreToolUse deny prints permissionDecision deny with the reason; the agent-token file is read', async () => {
    dataDir = freshDataDir();
    writeFileSync(join(dataDir, 'agent-token'), gate.token + '\n');
    const running = runHook(preToolUse, { GATEHOUSE_URL: gate.url });
    const request = await gate.nextRequest();
    expect(request.context.toolUseId).toBe('toolu_abc');
    gate.decide(request.id, 'deny', { message: 'not on a Friday' });
    const run = await running;
    expect(JSON.parse(run.stdout)).toEqual({
      hookSpecificOutput: { hookEventName: 'PreToolUse', permissionDecision: 'deny', permissionDecisionReason: 'not on a Friday' },
    });
  });

  it('HOOK-2: the same hook input twice finds the same request (Idempotency-Key)', async () => {
    dataDir = freshDataDir();
    const input = { ...permissionRequest, prompt_id: 'prompt-idem' };
    const first = runHook(input, { GATEHOUSE_URL: gate.url, GATEHOUSE_AGENT_TOKEN: gate.token });
    const request = await gate.nextRequest();
    const before = gate.requests.length;
    gate.decide(request.id, 'allow');
    await first;
    const second = await runHook(input, { GATEHOUSE_URL: gate.url, GATEHOUSE_AGENT_TOKEN: gate.token });
    expect(gate.requests.length).toBe(before);
    expect(JSON.parse(second.stdout).hookSpecificOutput.decision.behavior).toBe('allow');
  });

  it('HOOK-6: killed while waiting, the hook cancels its request (DELETE)', async () => {
    dataDir = freshDataDir();
    let child: import('node:child_process').ChildProcess | undefined;
    const running = runHook({ ...preToolUse, tool_use_id: 'toolu_kill' }, { GATEHOUSE_URL: gate.url, GATEHOUSE_AGENT_TOKEN: gate.token }, (c) => (child = c));
    const request = await gate.nextRequest();
    child!.kill('SIGTERM');
    const run = await running;
    expect(gate.deletes).toContain(request.id);
    expect(request.status).toBe('cancelled');
    expect(JSON.parse(run.stdout)).toMatchObject({ hookSpecificOutput: { permissionDecision: 'ask' } });
  });
});

describe('gatehouse hook steps aside', () => {
  it('HOOK-5: server down: PermissionRequest prints {} and PreToolUse prints ask, within 3 s', async () => {
    dataDir = freshDataDir();
    const url = await closedPortUrl();
    const pr = await runHook(permissionRequest, { GATEHOUSE_URL: url, GATEHOUSE_AGENT_TOKEN: AGENT_TOKEN, GATEHOUSE_HOOK_BREAKER: 'off' });
    expect(pr.ms).toBeLessThan(3000);
    expect(JSON.parse(pr.stdout)).toEqual({});
    const ptu = await runHook(preToolUse, { GATEHOUSE_URL: url, GATEHOUSE_AGENT_TOKEN: AGENT_TOKEN, GATEHOUSE_HOOK_BREAKER: 'off' });
    expect(ptu.ms).toBeLessThan(3000);
    expect(JSON.parse(ptu.stdout)).toMatchObject({ hookSpecificOutput: { hookEventName: 'PreToolUse', permissionDecision: 'ask' } });
    expect(pr.stderr + ptu.stderr).toBe('');
  });

  it('HOOK-5: a server that accepts but never answers costs under 3 s', async () => {
    dataDir = freshDataDir();
    const silent = await silentServer();
    try {
      const run = await runHook(preToolUse, { GATEHOUSE_URL: silent.url, GATEHOUSE_AGENT_TOKEN: AGENT_TOKEN });
      expect(run.ms).toBeLessThan(3000);
      expect(silent.connections()).toBe(1);
      expect(JSON.parse(run.stdout)).toMatchObject({ hookSpecificOutput: { permissionDecision: 'ask' } });
    } finally {
      await silent.close();
    }
  });

  it('HOOK-8: after a failure the breaker skips the server; after the cool-down a probe recovers', async () => {
    dataDir = freshDataDir();
    const silent = await silentServer();
    const breakerPath = join(dataDir, 'hook-breaker.json');
    try {
      await runHook(preToolUse, { GATEHOUSE_URL: silent.url, GATEHOUSE_AGENT_TOKEN: AGENT_TOKEN });
      expect(silent.connections()).toBe(1);
      const state = JSON.parse(readFileSync(breakerPath, 'utf8'));
      expect(state).toMatchObject({ url: silent.url, state: 'open', failures: 1 });
      // Next call: no connection at all, an immediate step-aside.
      const skipped = await runHook(preToolUse, { GATEHOUSE_URL: silent.url, GATEHOUSE_AGENT_TOKEN: AGENT_TOKEN });
      expect(silent.connections()).toBe(1);
      expect(JSON.parse(skipped.stdout)).toMatchObject({ hookSpecificOutput: { permissionDecision: 'ask' } });
    } finally {
      await silent.close();
    }
    // The server is back (same URL) and the cool-down has passed (time is an input: move the deadline).
    const gate = await startFakeGatehouse();
    try {
      const state = JSON.parse(readFileSync(breakerPath, 'utf8'));
      writeFileSync(breakerPath, JSON.stringify({ ...state, url: gate.url, openUntil: Date.now() - 1 }));
      const running = runHook({ ...preToolUse, tool_use_id: 'toolu_probe' }, { GATEHOUSE_URL: gate.url, GATEHOUSE_AGENT_TOKEN: gate.token });
      const request = await gate.nextRequest();
      gate.decide(request.id, 'allow');
      const run = await running;
      expect(JSON.parse(run.stdout)).toMatchObject({ hookSpecificOutput: { permissionDecision: 'allow' } });
      expect(existsSync(breakerPath)).toBe(false);
    } finally {
      await gate.close();
    }
  });

  it('HOOK-7: malformed stdin steps aside with a message on stderr', async () => {
    dataDir = freshDataDir();
    const run = await runHook('{not json', { GATEHOUSE_URL: 'http://127.0.0.1:9', GATEHOUSE_AGENT_TOKEN: AGENT_TOKEN });
    expect(JSON.parse(run.stdout)).toEqual({});
    expect(run.stderr).toMatch(/cannot read the hook input/);
    const partial = await runHook(
      { hook_event_name: 'PreToolUse', tool_name: 'Bash' },
      { GATEHOUSE_URL: 'http://127.0.0.1:9', GATEHOUSE_AGENT_TOKEN: AGENT_TOKEN },
    );
    expect(JSON.parse(partial.stdout)).toMatchObject({ hookSpecificOutput: { permissionDecision: 'ask' } });
    expect(run.code).toBe(0);
  });
});
