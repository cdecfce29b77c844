/**
 * `hook` and `mcp` hold the agent token only and send it only to a server that proved
 * it knows it (docs/integrations.md, "The agent token and the pinned server"). Each
 * test runs the real `bin/gatehouse` against a lure that answers like Gatehouse would,
 * a relay in front of the real server, or the real server itself.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeGatehouse } from '../agents/testing/fakeGatehouse.ts';
import { gatehouseCommand } from '../agents/testing/gatehouseCli.ts';
import { FORGED_INPUT, leaked, startLureServer, startRelay, type LureHello } from '../agents/testing/lureServer.ts';
import { startMcp } from '../agents/testing/mcpClient.ts';
import { runProcess } from '../agents/testing/runProcess.ts';
import { startServerProcess, type ServerProcess } from '../testing/index.ts';

const AGENT_TOKEN = 'agent-token-for-the-lure-0123456789';
const OWNER_TOKEN = 'owner-token-for-the-lure-0123456789';

const permissionRequest = {
  session_id: 'sess-pin',
  transcript_path: '/tmp/t.jsonl',
  cwd: '/tmp',
  prompt_id: 'prompt-pin',
  permission_mode: 'default',
  hook_event_name: 'PermissionRequest',
  tool_name: 'Bash',
  tool_input: { command: 'echo hi > /x/out.txt', description: 'write' },
  permission_suggestions: [],
};
const preToolUse = { ...permissionRequest, hook_event_name: 'PreToolUse', tool_use_id: 'toolu_pin', prompt_id: undefined };
type HookEvent = 'PermissionRequest' | 'PreToolUse';
const inputOf = (event: HookEvent, suffix: string) =>
  event === 'PreToolUse' ? { ...preToolUse, tool_use_id: `toolu_${suffix}` } : { ...permissionRequest, prompt_id: `prompt-${suffix}` };

const dirs: string[] = [];
function dataDir(files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'gh-pin-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text + '\n', { mode: 0o600 });
  return dir;
}

function runHook(input: unknown, env: Record<string, string | undefined>) {
  const { command, args } = gatehouseCommand();
  return runProcess(command, [...args, 'hook'], { stdin: JSON.stringify(input), env: { PATH: process.env.PATH, HOME: env.GATEHOUSE_DATA_DIR, ...env } });
}

const stepsAside = (event: HookEvent, stdout: string) => {
  const output = JSON.parse(stdout);
  if (event === 'PermissionRequest') expect(output).toEqual({});
  else expect(output).toMatchObject({ hookSpecificOutput: { hookEventName: 'PreToolUse', permissionDecision: 'ask' } });
};

let server: ServerProcess;
beforeAll(async () => {
  server = await startServerProcess();
});
afterAll(async () => {
  await server?.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const pendingOnServer = async () => ((await server.api('/api/permission-requests?status=pending')).body as { requests: unknown[] }).requests;

describe('AGENT: the agent token only', () => {
  it.each<HookEvent>(['PermissionRequest', 'PreToolUse'])(
    'AGENT-1: %s with only the owner token (GATEHOUSE_TOKEN and the token file): steps aside within 3 s with a reason on stderr; the server gets nothing',
    async (event) => {
      const dir = dataDir({ token: server.token! });
      const run = await runHook(inputOf(event, `owner-${event}`), { GATEHOUSE_URL: server.baseUrl, GATEHOUSE_TOKEN: server.token, GATEHOUSE_DATA_DIR: dir });
      expect(run.ms).toBeLessThan(3000);
      stepsAside(event, run.stdout);
      expect(run.stderr).toMatch(/no agent token/);
      expect(run.stderr).toMatch(/GATEHOUSE_AGENT_TOKEN/);
      expect(await pendingOnServer()).toEqual([]);
    },
  );

  it('AGENT-1: mcp with only the owner token denies, saying there is no agent token; the server gets nothing', async () => {
    const dir = dataDir({ token: server.token! });
    const mcp = await startMcp({ PATH: process.env.PATH, HOME: dir, GATEHOUSE_URL: server.baseUrl, GATEHOUSE_TOKEN: server.token, GATEHOUSE_DATA_DIR: dir });
    try {
      const answer = await mcp.approve({ tool_name: 'Bash', input: { command: 'echo hi' }, tool_use_id: 'toolu_mcp_owner' });
      expect(answer.behavior).toBe('deny');
      expect(answer.message).toMatch(/no agent token/);
      expect(await pendingOnServer()).toEqual([]);
    } finally {
      await mcp.close();
    }
  });

  it('AGENT-1: the agent token file of the data directory is read (no env): the real server is asked and its allow printed', async () => {
    const dir = dataDir({ 'agent-token': server.agentToken! });
    const running = runHook(inputOf('PermissionRequest', 'file'), { GATEHOUSE_URL: server.baseUrl, GATEHOUSE_DATA_DIR: dir });
    const id = await firstPendingId();
    const decided = await server.api(`/api/permission-requests/${id}/decision`, {
      method: 'POST',
      json: { decision: 'allow', updatedInput: { command: 'echo edited' } },
    });
    expect(decided.status).toBe(200);
    const run = await running;
    expect(JSON.parse(run.stdout)).toEqual({
      hookSpecificOutput: { hookEventName: 'PermissionRequest', decision: { behavior: 'allow', updatedInput: { command: 'echo edited' } } },
    });
  });
});

async function firstPendingId(): Promise<string> {
  for (;;) {
    const list = (await pendingOnServer()) as Array<{ id: string }>;
    if (list[0]) return list[0].id;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('AGENT: a server that cannot prove it knows the agent token gets no credential and gives no allow', () => {
  const hellos: LureHello[] = ['missing', 'garbage', 'wrong-key', 'echo'];
  it.each(hellos.flatMap((hello) => (['PermissionRequest', 'PreToolUse'] as const).map((event) => [hello, event] as const)))(
    'AGENT-2: a lure at GATEHOUSE_URL whose hello is %s: the %s hook steps aside, and only the hello reached it, without the token',
    async (hello, event) => {
      const lure = await startLureServer(hello);
      try {
        const dir = dataDir({ 'agent-token': AGENT_TOKEN, token: OWNER_TOKEN });
        const run = await runHook(inputOf(event, `${hello}-${event}`), {
          GATEHOUSE_URL: lure.url,
          GATEHOUSE_AGENT_TOKEN: AGENT_TOKEN,
          GATEHOUSE_TOKEN: OWNER_TOKEN,
          GATEHOUSE_DATA_DIR: dir,
        });
        expect(run.ms).toBeLessThan(3000);
        stepsAside(event, run.stdout);
        expect(run.stderr).toMatch(/did not prove it knows the agent token.*stepping aside/);
        expect(run.stdout).not.toContain('allow');
        expect(run.stdout).not.toContain(FORGED_INPUT.command);
        expect(lure.recorded.length).toBeGreaterThan(0);
        expect(leaked(lure.recorded, [AGENT_TOKEN, OWNER_TOKEN])).toEqual([]);
        expect(lure.recorded.map((entry) => `${entry.method} ${entry.url}`)).toEqual(['POST /api/agent/hello']);
      } finally {
        await lure.close();
      }
    },
  );

  it('AGENT-2: the breaker counts a server that cannot prove itself: the next hook skips it without sending anything', async () => {
    const lure = await startLureServer('missing');
    try {
      const dir = dataDir();
      const env = { GATEHOUSE_URL: lure.url, GATEHOUSE_AGENT_TOKEN: AGENT_TOKEN, GATEHOUSE_DATA_DIR: dir };
      stepsAside('PreToolUse', (await runHook(inputOf('PreToolUse', 'breaker-1'), env)).stdout);
      expect(lure.recorded).toHaveLength(1);
      const skipped = await runHook(inputOf('PreToolUse', 'breaker-2'), env);
      stepsAside('PreToolUse', skipped.stdout);
      expect(lure.recorded).toHaveLength(1);
    } finally {
      await lure.close();
    }
  });

  it.each(hellos)('AGENT-2: mcp pointed at a lure whose hello is %s denies saying the server did not prove itself; the lure saw no token', async (hello) => {
    const lure = await startLureServer(hello);
    const dir = dataDir({ 'agent-token': AGENT_TOKEN, token: OWNER_TOKEN });
    const mcp = await startMcp({
      PATH: process.env.PATH,
      HOME: dir,
      GATEHOUSE_URL: lure.url,
      GATEHOUSE_AGENT_TOKEN: AGENT_TOKEN,
      GATEHOUSE_TOKEN: OWNER_TOKEN,
      GATEHOUSE_DATA_DIR: dir,
    });
    try {
      const answer = await mcp.approve({ tool_name: 'Bash', input: { command: 'echo hi' }, tool_use_id: `toolu_mcp_${hello}` });
      expect(answer.behavior).toBe('deny');
      expect(answer.message).toMatch(/did not prove/);
      expect(JSON.stringify(answer)).not.toContain(FORGED_INPUT.command);
      expect(leaked(lure.recorded, [AGENT_TOKEN, OWNER_TOKEN])).toEqual([]);
      expect(lure.recorded.every((entry) => entry.url === '/api/agent/hello')).toBe(true);
    } finally {
      await mcp.close();
      await lure.close();
    }
  });

  it.each(['keep', 'rewrite'] as const)(
    'AGENT-3: a relay on another port forwarding to the real server (Host %s) cannot pass its proof off: the hook steps aside, no token crosses the relay',
    async (host) => {
      const relay = await startRelay(server.baseUrl, host);
      try {
        const dir = dataDir();
        // The owner token is in reach too: neither may cross the relay.
        const relayEnv = { GATEHOUSE_URL: relay.url, GATEHOUSE_AGENT_TOKEN: server.agentToken, GATEHOUSE_TOKEN: server.token, GATEHOUSE_DATA_DIR: dir };
        for (const event of ['PermissionRequest', 'PreToolUse'] as const) {
          const run = await runHook(inputOf(event, `relay-${host}-${event}`), { ...relayEnv, GATEHOUSE_HOOK_BREAKER: 'off' });
          stepsAside(event, run.stdout);
        }
        const mcp = await startMcp({ PATH: process.env.PATH, HOME: dir, ...relayEnv });
        try {
          expect((await mcp.approve({ tool_name: 'Bash', input: { command: 'echo relay' }, tool_use_id: `toolu_relay_${host}` })).behavior).toBe('deny');
        } finally {
          await mcp.close();
        }
        expect(relay.recorded.length).toBeGreaterThan(0);
        expect(leaked(relay.recorded, [server.agentToken!, server.token!])).toEqual([]);
        expect(await pendingOnServer()).toEqual([]);
      } finally {
        await relay.close();
      }
    },
  );
});

describe('AGENT: mcp proves the server again for each approve', () => {
  it('AGENT-5: one hello per approve; when a lure takes the port between two calls, the second call sends it the hello only and denies', async () => {
    const gate = await startFakeGatehouse(AGENT_TOKEN);
    const port = Number(new URL(gate.url).port);
    const dir = dataDir();
    const mcp = await startMcp({ PATH: process.env.PATH, HOME: dir, GATEHOUSE_URL: gate.url, GATEHOUSE_AGENT_TOKEN: AGENT_TOKEN, GATEHOUSE_DATA_DIR: dir });
    let lure: Awaited<ReturnType<typeof startLureServer>> | undefined;
    try {
      const first = mcp.approve({ tool_name: 'Bash', input: { command: 'echo one' }, tool_use_id: 'toolu_first' });
      const request = await gate.nextRequest();
      gate.decide(request.id, 'allow');
      expect(await first).toEqual({ behavior: 'allow', updatedInput: { command: 'echo one' } });
      expect(gate.hellos()).toBe(1);
      await gate.close();
      lure = await startLureServer('garbage', port);
      const second = await mcp.approve({ tool_name: 'Bash', input: { command: 'echo two' }, tool_use_id: 'toolu_second' });
      expect(second.behavior).toBe('deny');
      expect(second.message).toMatch(/did not prove/);
      expect(leaked(lure.recorded, [AGENT_TOKEN])).toEqual([]);
      expect(lure.recorded.map((entry) => entry.url)).toEqual(['/api/agent/hello']);
    } finally {
      await mcp.close();
      await lure?.close();
    }
  });
});
