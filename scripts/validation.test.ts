/**
 * The feature spec's four validation commands, each run as a user runs it (the command
 * string from package.json, or `node scripts/test-permission-ordering.js`) in its small
 * QUICK=1 mode: each must pass, print its figures, and FAIL when its property is broken
 * on purpose (an injected fault). Runs the eight processes concurrently to stay quick.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../server/testing/index.ts';

const scripts = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;

type Run = { code: number | null; stdout: string; stderr: string };

/** Run a command as npm would (node_modules/.bin on PATH), in its own process group, bounded. */
function run(command: string, timeoutMs = 75_000): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', command], {
      cwd: REPO_ROOT,
      detached: true,
      env: { ...process.env, QUICK: '1', PATH: `${join(REPO_ROOT, 'node_modules/.bin')}:${process.env.PATH}` },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const show = (r: Run) => `exit ${r.code}\n${r.stdout}\n${r.stderr}`.slice(-4000);

describe('validation commands', () => {
  it.concurrent('VAL-1: npm run test:websocket-load passes and prints requests/s and p50/p99; a dropped event makes it fail', async () => {
    expect(scripts['test:websocket-load']).toBe('tsx scripts/test-websocket-load.ts');
    const [ok, broken] = await Promise.all([run(scripts['test:websocket-load']!), run(`${scripts['test:websocket-load']} --inject-fault=drop-event`)]);
    expect(ok.code, show(ok)).toBe(0);
    expect(ok.stdout).toMatch(/request lifecycles\/s/);
    expect(ok.stdout).toMatch(/create -> client\s+p50 [\d.]+ ms, p99 [\d.]+ ms/);
    expect(ok.stdout).toMatch(/PASS/);
    expect(broken.code, show(broken)).toBe(1);
    expect(broken.stdout).toMatch(/FAIL/);
    expect(broken.stdout).toMatch(/gap: expected seq/);
  }, 90_000);

  it.concurrent('VAL-2: npm run test:memory-websocket passes within the heap bounds and prints them; a kept reference per lifecycle makes it fail', async () => {
    expect(scripts['test:memory-websocket']).toBe('node --expose-gc --import tsx scripts/test-memory-websocket.ts');
    const [ok, leaking] = await Promise.all([run(scripts['test:memory-websocket']!), run(`${scripts['test:memory-websocket']} --leak`)]);
    expect(ok.code, show(ok)).toBe(0);
    expect(ok.stdout).toMatch(/end - baseline\s+-?[\d.]+ MiB \(bound 5\.00 MiB\)\s+ok/);
    expect(ok.stdout).toMatch(/second half\s+-?[\d.]+ B per lifecycle \(bound 200\)\s+ok/);
    expect(leaking.code, show(leaking)).toBe(1);
    expect(leaking.stdout).toMatch(/EXCEEDED/);
  }, 90_000);

  it.concurrent('VAL-3: node scripts/test-permission-ordering.js passes; a duplicated event makes it fail', async () => {
    const [ok, broken] = await Promise.all([
      run('node scripts/test-permission-ordering.js'),
      run('node scripts/test-permission-ordering.js --inject-fault=duplicate-event'),
    ]);
    expect(ok.code, show(ok)).toBe(0);
    expect(ok.stdout).toMatch(/PASS/);
    expect(ok.stdout).toMatch(/resolved \d+, timedOut \d+, cancelled \d+/);
    expect(broken.code, show(broken)).toBe(1);
    expect(broken.stdout).toMatch(/a duplicate or out of order/);
  }, 90_000);

  it.concurrent('VAL-4: npm run test:chat passes; reordered events make it fail', async () => {
    expect(scripts['test:chat']).toBe('tsx scripts/test-chat.ts');
    const [ok, broken] = await Promise.all([run(scripts['test:chat']!), run(`${scripts['test:chat']} --inject-fault=reorder-events`)]);
    expect(ok.code, show(ok)).toBe(0);
    expect(ok.stdout).toMatch(/PASS/);
    expect(broken.code, show(broken)).toBe(1);
    expect(broken.stdout).toMatch(/FAIL/);
  }, 90_000);

  it.concurrent('VAL-5: bad arguments are refused with exit code 2 and a usage line', async () => {
    const runs = await Promise.all([
      run(`${scripts['test:websocket-load']} --inject-fault=nonsense`),
      run('node scripts/test-permission-ordering.js --requests many'),
      run(`${scripts['test:chat']} --bogus`),
    ]);
    for (const r of runs) expect(r.code, show(r)).toBe(2);
  }, 90_000);
});
