/**
 * Start the real server for a plain-JavaScript script (Node 20 cannot run .ts, so this
 * cannot reuse server/testing/serverProcess.ts): `node --import <tsx loader>
 * server/cli/main.ts serve` (what bin/gatehouse execs, without the shell in between, so a
 * kill reaches the server itself), on a free port and a temporary data directory; read
 * the ready line for the port and token; stop with SIGTERM, then SIGKILL.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const READY = /^Gatehouse listening on (http:\/\/\S+)$/m;

/**
 * @param {{ args?: string[], nodeArgs?: string[], env?: Record<string, string>, dataDir?: string, readyTimeoutMs?: number }} [options]
 *   nodeArgs: flags for node itself (e.g. --cpu-prof)
 */
export async function spawnServer(options = {}) {
  const loader = join(REPO_ROOT, 'node_modules/tsx/dist/loader.mjs');
  if (!existsSync(loader)) throw new Error(`tsx is missing (${loader}): run npm install first`);
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'gatehouse-check-'));
  const env = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('GATEHOUSE_') && key !== 'DEBUG') env[key] = value;
  Object.assign(env, options.env ?? {});
  const args = [
    ...(options.nodeArgs ?? []),
    '--import',
    pathToFileURL(loader).href,
    join(REPO_ROOT, 'server/cli/main.ts'),
    'serve',
    '--port',
    '0',
    '--data-dir',
    dataDir,
    ...(options.args ?? []),
  ];
  const proc = spawn(process.execPath, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  // A check that ends early (a failed assertion, process.exit, a signal) must not leave
  // its server running.
  const killOnExit = () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      killOnExit();
      process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
    });
  }
  let stdout = '';
  let stderr = '';
  proc.stdout.setEncoding('utf8');
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((res) => proc.on('exit', (code, signal) => res({ code, signal })));
  const readyUrl = await new Promise((res, rej) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      rej(new Error(`the server printed no ready line within ${options.readyTimeoutMs ?? 20_000} ms\n${stderr}`));
    }, options.readyTimeoutMs ?? 20_000);
    proc.stdout.on('data', (d) => {
      stdout += d;
      const match = READY.exec(stdout);
      if (match) {
        clearTimeout(timer);
        res(match[1]);
      }
    });
    void exited.then((info) => {
      clearTimeout(timer);
      rej(new Error(`the server exited before it was ready (${JSON.stringify(info)})\n${stderr}`));
    });
  });
  const url = new URL(readyUrl);
  const port = Number(url.port);
  const token = url.searchParams.get('token') ?? undefined;
  const baseUrl = `http://127.0.0.1:${port}`;
  return {
    proc,
    port,
    token,
    baseUrl,
    dataDir,
    stderr: () => stderr,
    exited,
    wsUrl(params = {}) {
      const u = new URL(`ws://127.0.0.1:${port}/ws`);
      if (token) u.searchParams.set('token', token);
      for (const [key, value] of Object.entries(params)) if (value !== undefined) u.searchParams.set(key, String(value));
      return u.toString();
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 6_000);
      const info = await exited;
      clearTimeout(timer);
      process.off('exit', killOnExit);
      if (ownDir) rmSync(dataDir, { recursive: true, force: true });
      return info;
    },
  };
}
