/**
 * `gatehouse opencode` argument errors: each exits 2 with a message naming the problem
 * (the real bridge runs in server/agents/opencode/opencode.serve.test.ts).
 */
import { describe, expect, it, vi } from 'vitest';
import main from './opencode.ts';

async function run(argv: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  try {
    return { code: await main(argv), stderr };
  } finally {
    spy.mockRestore();
  }
}

describe('gatehouse opencode arguments', () => {
  it('OPENCODE-10: no --url, a bad URL or an unknown flag: exit 2 with a usage line', async () => {
    expect(await run([])).toMatchObject({ code: 2, stderr: expect.stringContaining('--url is required') });
    expect(await run(['--url', 'file:///etc/passwd'])).toMatchObject({ code: 2, stderr: expect.stringContaining('http:// or https://') });
    expect(await run(['--url', 'http://a:b@127.0.0.1:4096'])).toMatchObject({ code: 2, stderr: expect.stringContaining('user name or password') });
    expect(await run(['--url', 'http://127.0.0.1:4096', '--password', 'x'])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('Usage: gatehouse opencode'),
    });
  });
});
