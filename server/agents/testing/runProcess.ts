/**
 * Runs a command-line process with given stdin and env, collecting its output and how
 * long it took; gives access to the child for signals.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export type ProcessRun = { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; ms: number };

export function runProcess(
  command: string,
  args: string[],
  options: { stdin?: string; env?: Record<string, string | undefined>; cwd?: string; timeoutMs?: number; onSpawn?: (child: ChildProcess) => void },
): Promise<ProcessRun> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env as NodeJS.ProcessEnv, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
    child.stdin!.on('error', () => {});
    if (options.stdin !== undefined) child.stdin!.end(options.stdin);
    options.onSpawn?.(child);
  });
}
