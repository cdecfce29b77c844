/**
 * The real Claude Code binary with `--permission-prompt-tool mcp__gatehouse__approve`,
 * the tool served by `gatehouse mcp`, asking a Gatehouse (claude-code-offline.md, surface 3).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claudeEnv, runClaude } from './testing/claudeCli.ts';
import { oneToolUse, startFakeMessagesApi, type FakeMessagesApi } from './testing/fakeMessagesApi.ts';
import { gatehouseCommand } from './testing/gatehouseCli.ts';
import { startTestGatehouse, type TestGatehouse } from './testing/gatehouseServer.ts';
import { closedPort } from './testing/netFaults.ts';

const TIMEOUT = 30_000;
let api: FakeMessagesApi;
let gate: TestGatehouse;
let root: string;
let counter = 0;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'gh-claude-mcp-'));
  api = await startFakeMessagesApi();
  gate = await startTestGatehouse();
});
afterAll(async () => {
  await api?.close();
  await gate?.stop();
  rmSync(root, { recursive: true, force: true });
});

function scenario(url = gate.url) {
  counter += 1;
  const dir = join(root, `case-${counter}`);
  const cwd = join(dir, 'cwd');
  const out = join(dir, 'out');
  mkdirSync(cwd, { recursive: true });
  mkdirSync(out, { recursive: true });
  const { command, args } = gatehouseCommand();
  const config = join(dir, 'mcp.json');
  writeFileSync(
    config,
    JSON.stringify({
      mcpServers: {
        gatehouse: {
          type: 'stdio',
          command,
          args: [...args, 'mcp'],
          env: { GATEHOUSE_URL: url, GATEHOUSE_AGENT_TOKEN: gate.agentToken, GATEHOUSE_DATA_DIR: gate.dataDir },
        },
      },
    }),
  );
  const run = () =>
    runClaude({
      args: ['-p', 'please do it', '--mcp-config', config, '--strict-mcp-config', '--permission-prompt-tool', 'mcp__gatehouse__approve'],
      cwd,
      env: claudeEnv(api.url),
      timeoutMs: TIMEOUT,
    });
  return { cwd, out, run };
}

describe('Claude Code MCP permission prompt tool through Gatehouse', () => {
  it(
    'MCP-1: allow: the command runs; the request carries the tool use id',
    async () => {
      const s = scenario();
      const command = `echo allowed > ${s.out}/allow.txt`;
      api.setScript(oneToolUse('Bash', { command, description: 'write a file' }));
      const running = s.run();
      const request = await gate.human.nextPending();
      expect(request.input.command).toBe(command);
      expect(request.context).toMatchObject({ agent: 'claude-code-mcp' });
      expect(String(request.context.toolUseId)).toMatch(/^toolu_/);
      await gate.human.decide(request.id, { decision: 'allow' });
      const result = await running;
      expect(result.code).toBe(0);
      expect(readFileSync(join(s.out, 'allow.txt'), 'utf8').trim()).toBe('allowed');
    },
    TIMEOUT,
  );

  it(
    'MCP-1: deny: nothing runs and the model receives the message',
    async () => {
      const s = scenario();
      const command = `echo denied > ${s.out}/deny.txt`;
      api.setScript(oneToolUse('Bash', { command, description: 'write a file' }));
      const running = s.run();
      const request = await gate.human.nextPending();
      await gate.human.decide(request.id, { decision: 'deny', message: 'Denied: use the scratch folder' });
      await running;
      expect(existsSync(join(s.out, 'deny.txt'))).toBe(false);
      const result = api.toolResultForCommand(command);
      expect(result?.isError).toBe(true);
      expect(result?.text).toContain('Denied: use the scratch folder');
    },
    TIMEOUT,
  );

  it(
    'MCP-1: edited input: the edited command runs',
    async () => {
      const s = scenario();
      const command = `echo original > ${s.out}/original.txt`;
      api.setScript(oneToolUse('Bash', { command, description: 'write a file' }));
      const running = s.run();
      const request = await gate.human.nextPending();
      await gate.human.decide(request.id, { decision: 'allow', updatedInput: { ...request.input, command: `echo edited > ${s.out}/edited.txt` } });
      await running;
      expect(existsSync(join(s.out, 'original.txt'))).toBe(false);
      expect(readFileSync(join(s.out, 'edited.txt'), 'utf8').trim()).toBe('edited');
    },
    TIMEOUT,
  );

  it(
    'MCP-2: server down: the tool denies and says why',
    async () => {
      const s = scenario(`http://127.0.0.1:${await closedPort()}`);
      const command = `echo x > ${s.out}/down.txt`;
      api.setScript(oneToolUse('Bash', { command, description: 'write a file' }));
      await s.run();
      expect(existsSync(join(s.out, 'down.txt'))).toBe(false);
      const result = api.toolResultForCommand(command);
      expect(result?.isError).toBe(true);
      expect(result?.text).toMatch(/Gatehouse could not get a decision/);
    },
    TIMEOUT,
  );
});
