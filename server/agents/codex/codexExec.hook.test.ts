/**
 * `codex exec --approve-for-me` with the `gatehouse setup codex` hooks file: the real
 * Codex CLI 0.171 (offline, fake Responses API) asks Gatehouse through `gatehouse hook
 * --agent codex`, through a real server process; the test decides on the WebSocket like
 * a browser does. Each case prints its timing.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, startServerProcess, type ServerProcess, type TestClient } from '../../testing/index.ts';
import { GATEHOUSE_BIN } from '../testing/claudeCli.ts';
import { runProcess } from '../testing/runProcess.ts';
import { JUSTIFICATION, runPrompt, startCodexUnderTest, type CodexUnderTest } from './testing/codexUnderTest.ts';

const TEST_TIMEOUT = 60_000;
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

describe('codex exec with the setup codex hook (real Codex CLI)', () => {
  let codex: CodexUnderTest;
  let server: ServerProcess;
  let ws: TestClient;
  let work: string;
  const fileStarted = Date.now();

  beforeAll(async () => {
    const t = Date.now();
    work = mkdtempSync(join(tmpdir(), 'gh-codex-exec-'));
    codex = await startCodexUnderTest();
    server = await startServerProcess({});
    ws = await connectClient(server.wsUrl());
    await ws.waitFor((frame) => frame.type === 'welcome');
    const setup = await runProcess(GATEHOUSE_BIN, ['setup', 'codex', '--write', join(codex.home, 'hooks.json')], {
      env: { ...process.env, GATEHOUSE_URL: server.baseUrl, GATEHOUSE_DATA_DIR: server.dataDir },
    });
    expect(setup.code, setup.stderr).toBe(0);
    console.log(`[codex exec] codex installed, fake model, server and hooks up in ${seconds(Date.now() - t)}`);
  }, 240_000);

  afterAll(async () => {
    await ws?.close();
    await server?.stop();
    await codex?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
    console.log(`[codex exec] whole file in ${seconds(Date.now() - fileStarted)}`);
  });

  /** Runs one `codex exec` turn; `decide` answers the Gatehouse request it creates. */
  async function execTurn(command: string, decide: (request: Record<string, any>) => void, trustFlags = ['--dangerously-bypass-hook-trust']) {
    const from = ws.frames.length;
    // The hook's own settings are baked into its command (setup): Codex gets no GATEHOUSE_*.
    const env: Record<string, string | undefined> = { ...process.env, ...codex.env };
    for (const key of Object.keys(env)) if (key.startsWith('GATEHOUSE_')) delete env[key];
    const run = runProcess(codex.bin, ['exec', '--skip-git-repo-check', ...trustFlags, '--approve-for-me', '--json', '-C', work, runPrompt(command)], {
      env,
      stdin: '',
      timeoutMs: 45_000,
    });
    const request = await ws.waitFor((frame) => frame.type === 'permission-request', { timeoutMs: 30_000, fromIndex: from });
    decide(request);
    const result = await run;
    return { request, result };
  }

  it(
    'CODEX-2: allowed in Gatehouse, the command runs; the request is a Codex hook ask (agent codex-hook, session, turn, cwd, justification)',
    async () => {
      const t = Date.now();
      const marker = join(work, 'allowed');
      const { request, result } = await execTurn(`touch ${marker}`, (request) =>
        ws.send({ type: 'permission-response', requestId: request.id, decision: 'allow', clientMsgId: crypto.randomUUID() }),
      );
      expect(result.code, result.stderr).toBe(0);
      expect(existsSync(marker)).toBe(true);
      expect(request.toolName).toBe('Bash');
      expect(request.input).toEqual({ command: `touch ${marker}`, description: JUSTIFICATION });
      expect(request.context).toMatchObject({ agent: 'codex-hook', hookEvent: 'PermissionRequest', cwd: work, description: JUSTIFICATION });
      expect(typeof request.context.sessionId).toBe('string');
      expect(typeof request.context.turnId).toBe('string');
      console.log(`[codex exec] allow in ${seconds(Date.now() - t)} (codex ${seconds(result.ms)})`);
    },
    TEST_TIMEOUT,
  );

  it(
    'CODEX-2: denied in Gatehouse, the command does not run and Codex is told the reason',
    async () => {
      const t = Date.now();
      const marker = join(work, 'denied');
      const { result } = await execTurn(`touch ${marker}`, (request) =>
        ws.send({ type: 'permission-response', requestId: request.id, decision: 'deny', message: 'not today', clientMsgId: crypto.randomUUID() }),
      );
      expect(existsSync(marker)).toBe(false);
      expect(result.stdout + result.stderr).toContain('not today');
      console.log(`[codex exec] deny in ${seconds(Date.now() - t)} (codex ${seconds(result.ms)})`);
    },
    TEST_TIMEOUT,
  );

  it(
    'CODEX-3: an allow with an edited input is a deny (Codex cannot take edits): neither command runs',
    async () => {
      const t = Date.now();
      const marker = join(work, 'edited-original');
      const other = join(work, 'edited-other');
      const { result } = await execTurn(`touch ${marker}`, (request) =>
        ws.send({
          type: 'permission-response',
          requestId: request.id,
          decision: 'allow',
          updatedInput: { ...request.input, command: `touch ${other}` },
          clientMsgId: crypto.randomUUID(),
        }),
      );
      expect(existsSync(marker)).toBe(false);
      expect(existsSync(other)).toBe(false);
      expect(result.stdout + result.stderr).toContain('cannot take an edited input');
      console.log(`[codex exec] edited allow in ${seconds(Date.now() - t)} (codex ${seconds(result.ms)})`);
    },
    TEST_TIMEOUT,
  );

  it(
    'CODEX-10: setup codex --trust makes Codex trust our hook (its own hash in config.toml): exec without the bypass flag asks Gatehouse',
    async () => {
      const t = Date.now();
      const trust = await runProcess(GATEHOUSE_BIN, ['setup', 'codex', '--trust', '--codex-bin', codex.bin], {
        env: { ...process.env, ...codex.env },
        cwd: work,
      });
      expect(trust.code, trust.stderr).toBe(0);
      expect(trust.stderr).toContain('now trusts the hook');
      expect(readFileSync(join(codex.home, 'config.toml'), 'utf8')).toMatch(/trusted_hash = "sha256:[0-9a-f]{64}"/);
      const again = await runProcess(GATEHOUSE_BIN, ['setup', 'codex', '--trust', '--codex-bin', codex.bin], {
        env: { ...process.env, ...codex.env },
        cwd: work,
      });
      expect(again.stderr).toContain('already trusted');
      const marker = join(work, 'trusted');
      const { result } = await execTurn(
        `touch ${marker}`,
        (request) => ws.send({ type: 'permission-response', requestId: request.id, decision: 'allow', clientMsgId: crypto.randomUUID() }),
        [],
      );
      expect(result.code, result.stderr).toBe(0);
      expect(existsSync(marker)).toBe(true);
      console.log(`[codex exec] trust and allow without the bypass flag in ${seconds(Date.now() - t)}`);
    },
    TEST_TIMEOUT,
  );

  it('CODEX-1: the hooks file written by setup holds one gatehouse hook --agent codex', () => {
    const file = JSON.parse(readFileSync(join(codex.home, 'hooks.json'), 'utf8'));
    expect(file.hooks.PermissionRequest).toHaveLength(1);
    expect(file.hooks.PermissionRequest[0].hooks[0].command).toMatch(/gatehouse'? hook .*--agent codex$/);
  });
});
