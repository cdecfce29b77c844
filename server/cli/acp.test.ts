import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { GATEHOUSE_BIN } from '../agents/testing/claudeCli.ts';
import main from './acp.ts';

const run = (...args: string[]) => spawnSync(GATEHOUSE_BIN, ['acp', ...args], { encoding: 'utf8', input: '', timeout: 15_000 });

function captureStderr() {
  const chunks: string[] = [];
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    chunks.push(String(chunk));
    return true;
  });
  return () => chunks.join('');
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('gatehouse acp (command line)', () => {
  it('ACP-11: no command after -- is a usage error naming the problem', async () => {
    const stderr = captureStderr();
    expect(await main(['--no-editor'])).toBe(2);
    expect(stderr()).toContain('no agent command given after --');
  });

  it('ACP-11: an unknown flag is a usage error', async () => {
    const stderr = captureStderr();
    expect(await main(['--bogus', '--', 'true'])).toBe(2);
    expect(stderr()).toContain('--bogus');
  });

  it("ACP-11: through bin/gatehouse: a missing agent binary exits 127 saying so; otherwise the agent's exit code", () => {
    const missing = run('--', '/nonexistent/agent-binary');
    expect(missing.status).toBe(127);
    expect(missing.stderr).toContain('cannot start "/nonexistent/agent-binary"');
    expect(missing.stdout).toBe('');
    expect(run('--', 'sh', '-c', 'exit 3').status).toBe(3);
  });
});
