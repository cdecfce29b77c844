/**
 * Runs the real Claude Code binary (the one the Agent SDK ships) offline, against a fake
 * Messages API, with a fresh HOME so no user settings leak in (claude-code-offline.md).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
export const CLAUDE_BIN = join(PROJECT_ROOT, 'node_modules/@anthropic-ai/claude-agent-sdk-linux-x64/claude');
export const GATEHOUSE_BIN = join(PROJECT_ROOT, 'bin/gatehouse');
export const FAKE_MODEL = 'fake-model';

export type ClaudeRun = { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; ms: number };

/** The environment every offline run needs: its own HOME, the fake API, a dummy key. */
export function claudeEnv(apiUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  const home = mkdtempSync(join(tmpdir(), 'gh-claude-home-'));
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    ANTHROPIC_BASE_URL: apiUrl,
    ANTHROPIC_API_KEY: 'dummy',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    ...extra,
  };
}

export function runClaude(options: { args: string[]; cwd: string; env: Record<string, string>; timeoutMs?: number }): Promise<ClaudeRun> {
  const started = Date.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(CLAUDE_BIN, ['--model', FAKE_MODEL, ...options.args], { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
}
