/**
 * A scripted ACP editor for tests: starts `bin/gatehouse acp [flags] -- CMD…` as its
 * agent (the real launcher), speaks newline-delimited JSON-RPC on its stdio, keeps every
 * raw line it receives and sends (to compare bytes), and lets a test await the agent's
 * requests and notifications and answer them by hand.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { LineSplitter, messageOf, type JsonRpcMessage } from '../acp/lines.ts';
import { GATEHOUSE_BIN } from './claudeCli.ts';

export type EditorMessage = JsonRpcMessage & { raw: Buffer };

export type ScriptedEditor = {
  proc: ChildProcess;
  /** Every line received from the proxy, as raw bytes, in order. */
  received: Buffer[];
  /** Every line sent to the proxy, as raw bytes, in order. */
  sent: Buffer[];
  request(method: string, params: unknown, timeoutMs?: number): Promise<EditorMessage>;
  notify(method: string, params: unknown): void;
  respond(id: unknown, result: unknown): void;
  /** The first received message (from now on, or already received and not yet taken) that matches. */
  next(match: (message: EditorMessage) => boolean, timeoutMs?: number): Promise<EditorMessage>;
  stderr(): string;
  /** Close stdin and wait for the proxy to exit (SIGTERM after `timeoutMs`). */
  close(timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
};

export function startScriptedEditor(options: { args: string[]; env: NodeJS.ProcessEnv; cwd: string }): ScriptedEditor {
  const proc = spawn(GATEHOUSE_BIN, ['acp', ...options.args], { cwd: options.cwd, env: options.env, stdio: ['pipe', 'pipe', 'pipe'] });
  const received: Buffer[] = [];
  const sent: Buffer[] = [];
  const unclaimed: EditorMessage[] = [];
  const waiters: Array<{ match: (m: EditorMessage) => boolean; resolve: (m: EditorMessage) => void }> = [];
  let stderr = '';
  let nextId = 1000;
  proc.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const splitter = new LineSplitter((line) => {
    received.push(line);
    const message = messageOf(line);
    if (!message) return;
    const entry: EditorMessage = { ...message, raw: line };
    const index = waiters.findIndex((w) => w.match(entry));
    if (index >= 0) waiters.splice(index, 1)[0]!.resolve(entry);
    else unclaimed.push(entry);
  });
  proc.stdout!.on('data', (chunk: Buffer) => splitter.push(chunk));
  proc.stdout!.on('end', () => splitter.end());
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('close', (code, signal) => resolve({ code, signal })),
  );
  const write = (message: unknown) => {
    const line = Buffer.from(JSON.stringify(message) + '\n', 'utf8');
    sent.push(line);
    proc.stdin!.write(line);
  };
  const next = (match: (m: EditorMessage) => boolean, timeoutMs = 20_000) => {
    const index = unclaimed.findIndex(match);
    if (index >= 0) return Promise.resolve(unclaimed.splice(index, 1)[0]!); // index found: one removed
    return new Promise<EditorMessage>((resolve, reject) => {
      const waiter = {
        match,
        resolve: (m: EditorMessage) => {
          clearTimeout(timer);
          resolve(m);
        },
      };
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(waiter), 1);
        reject(new Error(`the editor saw no matching message within ${timeoutMs} ms; proxy stderr:\n${stderr.slice(-3000)}`));
      }, timeoutMs);
      waiters.push(waiter);
    });
  };
  return {
    proc,
    received,
    sent,
    request(method, params, timeoutMs) {
      const id = nextId++;
      const answer = next((m) => m.method === undefined && m.id === id, timeoutMs);
      write({ jsonrpc: '2.0', id, method, params });
      return answer;
    },
    notify(method, params) {
      write({ jsonrpc: '2.0', method, params });
    },
    respond(id, result) {
      write({ jsonrpc: '2.0', id, result });
    },
    next,
    stderr: () => stderr,
    async close(timeoutMs = 5000) {
      proc.stdin!.end();
      const timer = setTimeout(() => proc.kill('SIGTERM'), timeoutMs);
      const exit = await exited;
      clearTimeout(timer);
      return exit;
    },
  };
}
