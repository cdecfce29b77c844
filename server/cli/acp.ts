/**
 * `gatehouse acp [--no-editor] -- CMD [ARGS…]`: the ACP proxy for editors (contract-2 §5;
 * docs/integrations.md, "Any ACP agent"). The editor starts this as its agent; it starts
 * CMD (no shell), passes every line through unchanged and carries the agent's permission
 * asks to Gatehouse (server/agents/acp/proxy.ts). It finds the server like `hook` does
 * (server/agents/client/config.ts) and asks through the same client (ask.ts). stdout
 * belongs to the editor: logs go to stderr (one line per ask; more with DEBUG=acp).
 * Exits with the agent's exit code; when the editor closes stdin, the agent gets end of
 * input, then SIGTERM after a second if it is still running.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { parseArgs } from 'node:util';
import { agentNameOf } from '../agents/acp/permission.ts';
import { AcpProxy } from '../agents/acp/proxy.ts';
import { LineSplitter } from '../agents/acp/lines.ts';
import { loadClientConfig } from '../agents/client/config.ts';
import { gatehouseBridge } from '../agents/client/bridgeAsk.ts';

const USAGE = 'Usage: gatehouse acp [--no-editor] -- CMD [ARGS…]\n';

export const ACP_DEFAULTS = {
  /** After the editor closed our stdin: how long the agent may linger before SIGTERM, then SIGKILL. */
  lingerMs: 1000,
  killAfterMs: 5000,
} as const;

export default async function main(argv: string[]): Promise<number> {
  const separator = argv.indexOf('--');
  const own = separator < 0 ? argv : argv.slice(0, separator);
  const command = separator < 0 ? [] : argv.slice(separator + 1);
  let flags: { 'no-editor'?: boolean; help?: boolean };
  try {
    flags = parseArgs({
      args: own,
      options: { 'no-editor': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: false,
      strict: true,
    }).values;
  } catch (error) {
    process.stderr.write(`gatehouse acp: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (flags.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (command.length === 0 || !command[0]) {
    process.stderr.write(`gatehouse acp: no agent command given after --\n${USAGE}`);
    return 2;
  }

  const env = process.env;
  const config = loadClientConfig(env);
  const verbose = /(^|[\s,])(\*|acp|gatehouse:acp)($|[\s,])/.test(env.DEBUG ?? '');
  const log = (message: string) => process.stderr.write(`gatehouse acp: ${message}\n`);
  const gatehouse = gatehouseBridge(config, log, verbose);
  const child = spawn(command[0], command.slice(1), { stdio: ['pipe', 'pipe', 'inherit'], env });
  const proxy = new AcpProxy({
    agent: agentNameOf(command[0]),
    editor: !flags['no-editor'],
    cwd: process.cwd(),
    toEditor: (data) => process.stdout.write(data),
    toAgent: (data) => {
      if (child.stdin.writable) child.stdin.write(data);
    },
    ask: gatehouse.ask,
    cancel: gatehouse.cancel,
    log,
  });

  const fromEditor = new LineSplitter((line) => proxy.fromEditor(line));
  const fromAgent = new LineSplitter((line) => proxy.fromAgent(line));
  child.stdin.on('error', () => {}); // the agent exited: its exit ends us
  child.stdout.on('data', (chunk: Buffer) => fromAgent.push(chunk));
  child.stdout.on('end', () => fromAgent.end());
  const onEditorData = (chunk: Buffer) => fromEditor.push(chunk);
  // The editor went away: the agent has no one left to serve. End its stdin, then stop
  // it if it lingers (agents differ in whether end of input makes them exit).
  let stopTimers: NodeJS.Timeout[] = [];
  const onEditorEnd = () => {
    fromEditor.end();
    child.stdin.end();
    stopTimers = [
      setTimeout(() => child.kill('SIGTERM'), ACP_DEFAULTS.lingerMs),
      setTimeout(() => child.kill('SIGKILL'), ACP_DEFAULTS.lingerMs + ACP_DEFAULTS.killAfterMs),
    ];
  };
  process.stdin.on('data', onEditorData);
  process.stdin.once('end', onEditorEnd);
  const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
  const onTerm = forward('SIGTERM');
  const onInt = forward('SIGINT');
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);

  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  for (const timer of stopTimers) clearTimeout(timer);
  process.off('SIGTERM', onTerm);
  process.off('SIGINT', onInt);
  process.stdin.off('data', onEditorData);
  process.stdin.off('end', onEditorEnd);
  process.stdin.destroy();
  await proxy.close();
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  if (exit.error) {
    log(`cannot start ${JSON.stringify(command[0])}: ${(exit.error as NodeJS.ErrnoException).code ?? exit.error.message}`);
    return 127;
  }
  if (exit.signal) return 128 + (constants.signals[exit.signal] ?? 0);
  return exit.code ?? 1;
}
