/**
 * A JSON-RPC connection to one `codex app-server` process over stdio: one JSON object a
 * line, `"jsonrpc"` omitted (Codex's own framing). Our requests get ids from 1 up;
 * Codex's requests to us (approvals) go to `onRequest`, whose answer is sent back with
 * the same id; notifications go to `onNotification`. A line that is not a JSON object is
 * ignored (logged). The process gets the server's environment minus GATEHOUSE_* (the
 * tokens stay in the server).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { AGENT_SPAWN, endProcess } from '../endProcess.ts';

export type RpcId = string | number;
export type RpcHandlers = {
  onRequest(method: string, params: unknown, id: RpcId): Promise<unknown>;
  onNotification(method: string, params: unknown): void;
  onExit(reason: string): void;
};

function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && !key.startsWith('GATEHOUSE_')) env[key] = value;
  return env;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

export class AppServer {
  readonly child: ChildProcess;
  private nextId = 1;
  private readonly pending = new Map<RpcId, { resolve(value: unknown): void; reject(error: Error): void }>();
  private buffer = '';
  private stderr = '';
  private exitReason: string | undefined;

  constructor(
    bin: string,
    cwd: string,
    private readonly handlers: RpcHandlers,
  ) {
    this.child = spawn(bin, ['app-server'], { cwd, env: childEnv(), stdio: ['pipe', 'pipe', 'pipe'], ...AGENT_SPAWN });
    this.child.stdin!.on('error', () => {});
    this.child.stderr!.on('data', (chunk: Buffer) => (this.stderr = (this.stderr + chunk.toString('utf8')).slice(-4000)));
    this.child.stdout!.on('data', (chunk: Buffer) => {
      this.buffer += chunk.toString('utf8');
      for (let newline = this.buffer.indexOf('\n'); newline >= 0; newline = this.buffer.indexOf('\n')) {
        const line = this.buffer.slice(0, newline);
        this.buffer = this.buffer.slice(newline + 1);
        if (line.trim()) this.onLine(line);
      }
    });
    this.child.once('error', (error) => this.ended(`cannot start ${JSON.stringify(bin)}: ${(error as NodeJS.ErrnoException).code ?? error.message}`));
    // `close`, not `exit`: every line the process wrote is handled before it counts as gone.
    this.child.once('close', (code, signal) =>
      this.ended(`codex app-server exited (${signal ?? code})${this.stderr ? `: ${this.stderr.trim().slice(-500)}` : ''}`),
    );
  }

  get alive(): boolean {
    return this.exitReason === undefined;
  }

  private ended(reason: string): void {
    if (this.exitReason !== undefined) return;
    this.exitReason = reason;
    for (const waiter of this.pending.values()) waiter.reject(new Error(reason));
    this.pending.clear();
    this.handlers.onExit(reason);
  }

  private send(message: Record<string, unknown>): void {
    if (this.exitReason === undefined) this.child.stdin!.write(JSON.stringify(message) + '\n');
  }

  private onLine(line: string): void {
    let message: unknown;
    try {
      message = JSON.parse(line);
    } catch {
      return;
    }
    if (!isRecord(message)) return;
    const { id, method } = message;
    const hasId = typeof id === 'string' || typeof id === 'number';
    if (typeof method === 'string' && hasId) {
      // A request to us: always answered (an error when the handler throws).
      this.handlers.onRequest(method, message.params, id).then(
        (result) => this.send({ id, result }),
        (error: unknown) => this.send({ id, error: { code: -32603, message: String((error as Error)?.message ?? error) } }),
      );
      return;
    }
    if (typeof method === 'string') {
      this.handlers.onNotification(method, message.params);
      return;
    }
    if (hasId) {
      const waiter = this.pending.get(id);
      if (!waiter) return;
      this.pending.delete(id);
      if (isRecord(message.error)) waiter.reject(new Error(`codex: ${String(message.error.message ?? 'error')}`));
      else waiter.resolve(message.result);
    }
  }

  request(method: string, params: unknown): Promise<unknown> {
    if (this.exitReason !== undefined) return Promise.reject(new Error(this.exitReason));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.send({ method, id, params });
    });
  }

  notify(method: string, params?: unknown): void {
    this.send(params === undefined ? { method } : { method, params });
  }

  /** Ends the app-server and resolves once it exited (bounded: endProcess.ts). */
  close(): Promise<void> {
    this.child.stdin!.end();
    return endProcess(this.child);
  }
}
