/**
 * The settings `gatehouse setup claude --write` writes, used by the real Claude Code
 * binary offline (claude-code-offline.md): its deny rules keep the agent's own tools out
 * of Gatehouse's data directory (the agent token, the owner token, the database) without
 * asking anyone, while everything else still reaches Gatehouse through the hook.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RequestView } from '../../protocol/index.ts';
import { claudeEnv, runClaude } from './testing/claudeCli.ts';
import { oneToolUse, startFakeMessagesApi, type FakeMessagesApi } from './testing/fakeMessagesApi.ts';
import { gatehouseCommand } from './testing/gatehouseCli.ts';
import { startTestGatehouse, type TestGatehouse } from './testing/gatehouseServer.ts';
import { runProcess } from './testing/runProcess.ts';

const TIMEOUT = 30_000;
let api: FakeMessagesApi;
let gate: TestGatehouse;
let root: string;
let counter = 0;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'gh-claude-setup-'));
  api = await startFakeMessagesApi();
  gate = await startTestGatehouse();
});
afterAll(async () => {
  await api?.close();
  await gate?.stop();
  rmSync(root, { recursive: true, force: true });
});

/** `setup claude --write` into a fresh settings file, as a user would run it. */
async function writtenSettings(...flags: string[]): Promise<string> {
  counter += 1;
  const file = join(root, `settings-${counter}.json`);
  const { command, args } = gatehouseCommand();
  const run = await runProcess(command, [...args, 'setup', 'claude', '--timeout', '30', '--write', file, ...flags], {
    env: { PATH: process.env.PATH, HOME: root, GATEHOUSE_URL: gate.url, GATEHOUSE_DATA_DIR: gate.dataDir },
  });
  expect(run.code).toBe(0);
  return file;
}

/** Runs Claude Code on one tool use; the human denies (and records) whatever reaches Gatehouse. */
async function runOne(settings: string, tool: string, input: Record<string, unknown>, decide: 'allow' | 'deny' = 'deny') {
  const cwd = join(root, `cwd-${counter}`);
  mkdirSync(cwd, { recursive: true });
  api.setScript(oneToolUse(tool, input));
  const asked: RequestView[] = [];
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      const next = await gate.human.nextPending(500).catch(() => undefined);
      if (!next) continue;
      asked.push(next);
      await gate.human.decide(next.id, decide === 'allow' ? { decision: 'allow' } : { decision: 'deny', message: 'Denied by the test human' });
    }
  })();
  // Only what setup wrote: no Gatehouse variable of ours reaches Claude Code or the hook.
  const result = await runClaude({ args: ['-p', 'please do it', '--settings', settings], cwd, env: claudeEnv(api.url), timeoutMs: TIMEOUT });
  watching = false;
  await watcher;
  const results = api.toolResults();
  return { result, asked, toolResult: results[results.length - 1] };
}

const secrets = () => [gate.agentToken, gate.token, readFileSync(join(gate.dataDir, 'agent-token'), 'utf8').trim()];
const modelSaw = () => JSON.stringify(api.requests);

describe('Claude Code with the settings setup wrote', () => {
  it(
    'AGENT-7: Read of <data-dir>/agent-token is denied by the deny rule, without asking Gatehouse; the token never reaches the model',
    async () => {
      const settings = await writtenSettings();
      const { asked, toolResult } = await runOne(settings, 'Read', { file_path: join(gate.dataDir, 'agent-token') });
      expect(asked).toEqual([]);
      expect(toolResult?.isError).toBe(true);
      expect(toolResult?.text).toMatch(/denied by your permission settings/);
      for (const secret of secrets()) expect(modelSaw()).not.toContain(secret);
    },
    TIMEOUT,
  );

  it(
    'AGENT-7: with the PreToolUse hook too, the Read is denied before the hook asks Gatehouse',
    async () => {
      const settings = await writtenSettings('--pre-tool-use');
      const { asked, toolResult } = await runOne(settings, 'Read', { file_path: join(gate.dataDir, 'token') });
      expect(asked).toEqual([]);
      expect(toolResult?.isError).toBe(true);
      for (const secret of secrets()) expect(modelSaw()).not.toContain(secret);
    },
    TIMEOUT,
  );

  it(
    'AGENT-7: Bash cat of the token and an interpreter naming the data directory are denied without asking; a Write into it too',
    async () => {
      const settings = await writtenSettings();
      for (const [tool, input] of [
        ['Bash', { command: `cat ${gate.dataDir}/agent-token`, description: 'read' }],
        ['Bash', { command: `python3 -c "print(open('${gate.dataDir}/agent-token').read())"`, description: 'read' }],
        ['Write', { file_path: join(gate.dataDir, 'agent-token'), content: 'attacker-chosen-token-0123456789' }],
      ] as const) {
        const { asked, toolResult } = await runOne(settings, tool, input);
        expect(asked).toEqual([]);
        expect(toolResult?.isError).toBe(true);
      }
      expect(readFileSync(join(gate.dataDir, 'agent-token'), 'utf8').trim()).toBe(gate.agentToken);
      for (const secret of secrets()) expect(modelSaw()).not.toContain(secret);
    },
    TIMEOUT * 2,
  );

  it(
    'AGENT-7: a Read outside the working folder but not in the data directory still reaches Gatehouse, and its allow lets it through',
    async () => {
      const settings = await writtenSettings();
      const file = join(root, 'notes.txt');
      writeFileSync(file, 'nothing secret here\n');
      const { asked, toolResult } = await runOne(settings, 'Read', { file_path: file }, 'allow');
      expect(asked).toHaveLength(1);
      expect(asked[0]!.input.file_path).toBe(file);
      expect(toolResult?.isError).toBe(false);
      expect(toolResult?.text).toContain('nothing secret here');
    },
    TIMEOUT,
  );
});
