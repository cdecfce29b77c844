/**
 * Test helper: start the REAL server process (`server/cli/main.ts serve`) on a free
 * port with a temporary data directory, read its ready line for the port and token, and
 * stop it (SIGTERM, SIGKILL) or restart it on the same data directory. Shared by the
 * server's integration tests and the agents, chaos and e2e suites.
 *
 *   const server = await startServerProcess({ args: ['--request-timeout', '500'] });
 *   const res = await server.api('/api/permission-requests', { method: 'POST', json: {...} });
 *   await server.stop();      // SIGTERM, waits for exit, removes the temp data dir
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
// Node itself with tsx's loader (what bin/gatehouse execs), not the tsx CLI: the CLI runs
// the server in a child process, so a SIGKILL to it would orphan the real server.
const TSX_LOADER = pathToFileURL(join(REPO_ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
const MAIN = join(REPO_ROOT, 'server/cli/main.ts');
const serveCommand = (args: string[], launcher: 'tsx' | 'bin' = 'tsx'): [string, string[]] =>
  launcher === 'bin' ? [join(REPO_ROOT, 'bin/gatehouse'), ['serve', ...args]] : [process.execPath, ['--import', TSX_LOADER, MAIN, 'serve', ...args]];
const READY = /^Gatehouse listening on (http:\/\/\S+)$/m;

export type StartServerOptions = {
  /** Extra `serve` flags, e.g. ['--request-timeout', '300']. `--port 0` and `--data-dir` are added unless given. */
  args?: string[];
  /** Extra environment (merged over process.env minus GATEHOUSE_* variables). */
  env?: Record<string, string | undefined>;
  /** Reuse a data directory (a restart); otherwise a temporary one is made and removed on stop. */
  dataDir?: string;
  /** How long to wait for the ready line. Default 15 s. */
  readyTimeoutMs?: number;
  /** Print the server's stderr as it comes (debugging a test). */
  echoStderr?: boolean;
  /** `bin` runs `bin/gatehouse serve` (the built bundle when it is fresh, as an operator
   *  runs it; its `exec` keeps one process, so a signal reaches the server itself);
   *  default `tsx`: the sources through tsx's loader. */
  launcher?: 'tsx' | 'bin';
};

export type ExitInfo = { code: number | null; signal: NodeJS.Signals | null };

export type ApiInit = Omit<RequestInit, 'body'> & {
  /** Sent as JSON with content-type. */
  json?: unknown;
  body?: RequestInit['body'] | undefined;
  /** Default (or undefined): the server's token as a Bearer header; `null` sends none. */
  token?: string | null | undefined;
};

export type ApiResponse<T = any> = { status: number; headers: Headers; body: T; text: string };

export type ServerProcess = {
  proc: ChildProcess;
  port: number;
  /** The owner token; undefined when auth is off. */
  token: string | undefined;
  /** The agent token (GATEHOUSE_AGENT_TOKEN, else `<data-dir>/agent-token`); undefined when auth is off. */
  agentToken: string | undefined;
  /** http://127.0.0.1:PORT */
  baseUrl: string;
  /** The URL printed on the ready line. */
  readyUrl: string;
  dataDir: string;
  stdout(): string;
  stderr(): string;
  /** ws://127.0.0.1:PORT/ws?token=…&…params (token omitted when auth is off or token: null). */
  wsUrl(params?: Record<string, string | number | undefined>, options?: { token?: string | null; path?: string }): string;
  /** fetch against the server with the token, parsing JSON bodies. */
  api<T = any>(path: string, init?: ApiInit): Promise<ApiResponse<T>>;
  /** Resolves when stderr contains the text (e.g. a fault marker). */
  waitForStderr(text: string | RegExp, timeoutMs?: number): Promise<void>;
  /** Resolves on exit (immediately if already exited). */
  exited: Promise<ExitInfo>;
  /** Send a signal and wait for the exit. */
  kill(signal?: NodeJS.Signals): Promise<ExitInfo>;
  /** SIGTERM (then SIGKILL after 6 s), wait for exit, remove the temp data dir if ours. */
  stop(): Promise<ExitInfo>;
};

function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('GATEHOUSE_') || key === 'DEBUG') continue;
    env[key] = value;
  }
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

/** Run `serve` and expect it to fail (e.g. refused flags): resolves with the exit and output. */
export async function runServeExpectingExit(args: string[], env: Record<string, string | undefined> = {}, timeoutMs = 15_000, launcher: 'tsx' | 'bin' = 'tsx') {
  const proc = spawn(...serveCommand(args, launcher), { cwd: REPO_ROOT, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (d) => (stdout += d));
  proc.stderr!.on('data', (d) => (stderr += d));
  const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
  const exit = await new Promise<ExitInfo>((res) => proc.on('exit', (code, signal) => res({ code, signal })));
  clearTimeout(timer);
  return { ...exit, stdout, stderr };
}

export async function startServerProcess(options: StartServerOptions = {}): Promise<ServerProcess> {
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'gatehouse-test-'));
  const args = [...(options.args ?? [])];
  if (!args.includes('--port')) args.push('--port', '0');
  if (!args.includes('--data-dir')) args.push('--data-dir', dataDir);
  const proc = spawn(...serveCommand(args, options.launcher), {
    cwd: REPO_ROOT,
    env: cleanEnv(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const stderrWaiters = new Set<() => void>();
  proc.stdout!.setEncoding('utf8');
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (d: string) => {
    stderr += d;
    if (options.echoStderr) process.stderr.write(d);
    for (const check of [...stderrWaiters]) check();
  });
  const exited = new Promise<ExitInfo>((res) => proc.on('exit', (code, signal) => res({ code, signal })));

  const readyUrl = await new Promise<string>((res, rej) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      rej(new Error(`no ready line within ${options.readyTimeoutMs ?? 15_000} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, options.readyTimeoutMs ?? 15_000);
    proc.stdout!.on('data', (d: string) => {
      stdout += d;
      const match = READY.exec(stdout);
      if (match) {
        clearTimeout(timer);
        res(match[1]!);
      }
    });
    void exited.then((info) => {
      clearTimeout(timer);
      rej(new Error(`server exited before ready (${JSON.stringify(info)})\nstdout: ${stdout}\nstderr: ${stderr}`));
    });
  });
  const parsed = new URL(readyUrl);
  const port = Number(parsed.port);
  const token = parsed.searchParams.get('token') ?? undefined;
  const agentToken = token ? (options.env?.GATEHOUSE_AGENT_TOKEN ?? readFileSync(join(dataDir, 'agent-token'), 'utf8').trim()) : undefined;
  const baseUrl = `http://127.0.0.1:${port}`;

  const kill = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
    return exited;
  };

  const server: ServerProcess = {
    proc,
    port,
    token,
    agentToken,
    baseUrl,
    readyUrl,
    dataDir,
    stdout: () => stdout,
    stderr: () => stderr,
    wsUrl(params = {}, opts = {}) {
      const url = new URL(`ws://127.0.0.1:${port}${opts.path ?? '/ws'}`);
      const t = opts.token === undefined ? token : opts.token;
      if (t) url.searchParams.set('token', t);
      for (const [key, value] of Object.entries(params)) if (value !== undefined) url.searchParams.set(key, String(value));
      return url.toString();
    },
    async api(path, init = {}) {
      const { json, body: given, token: t, headers, ...rest } = init;
      const h = new Headers(headers);
      const useToken = t === undefined ? token : t;
      if (useToken) h.set('authorization', `Bearer ${useToken}`);
      if (json !== undefined) h.set('content-type', 'application/json');
      const payload = json !== undefined ? JSON.stringify(json) : given;
      const res = await fetch(`${baseUrl}${path}`, { ...rest, headers: h, ...(payload !== undefined ? { body: payload } : {}) });
      const text = await res.text();
      let body: any = text;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        // not JSON: keep the text
      }
      return { status: res.status, headers: res.headers, body, text };
    },
    waitForStderr(text, timeoutMs = 10_000) {
      const matches = () => (typeof text === 'string' ? stderr.includes(text) : text.test(stderr));
      if (matches()) return Promise.resolve();
      return new Promise<void>((res, rej) => {
        const timer = setTimeout(() => {
          stderrWaiters.delete(check);
          rej(new Error(`stderr did not show ${String(text)} within ${timeoutMs} ms; stderr:\n${stderr}`));
        }, timeoutMs);
        const check = () => {
          if (!matches()) return;
          clearTimeout(timer);
          stderrWaiters.delete(check);
          res();
        };
        stderrWaiters.add(check);
      });
    },
    exited,
    kill,
    async stop() {
      const timer = setTimeout(() => proc.kill('SIGKILL'), 6_000);
      const info = await kill('SIGTERM');
      clearTimeout(timer);
      if (ownDir) rmSync(dataDir, { recursive: true, force: true });
      return info;
    },
  };
  return server;
}
