#!/usr/bin/env node
// Test fixture: a transparent wrapper around an ACP agent that records the exact bytes
// the agent wrote (agent-stdout.bin) and received (agent-stdin.bin), so a test can prove
// the proxy passed every message through unchanged. Started through a symlink named
// after the agent (the proxy names the agent by its command's basename). The agent's
// command is the JSON array in ACP_TAP_COMMAND; the records go to ACP_TAP_DIR.
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';

const [command, ...args] = JSON.parse(process.env.ACP_TAP_COMMAND ?? '[]');
const dir = process.env.ACP_TAP_DIR;
const wrote = createWriteStream(join(dir, 'agent-stdout.bin'));
const got = createWriteStream(join(dir, 'agent-stdin.bin'));
const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'] });
child.stdout.on('data', (chunk) => {
  wrote.write(chunk);
  process.stdout.write(chunk);
});
process.stdin.on('data', (chunk) => {
  got.write(chunk);
  child.stdin.write(chunk);
});
process.stdin.on('end', () => child.stdin.end());
child.stdin.on('error', () => {});
process.on('SIGTERM', () => child.kill('SIGTERM'));
child.on('close', (code, signal) => {
  let open = 2;
  const done = () => (--open === 0 ? process.exit(code ?? (signal ? 1 : 0)) : undefined);
  wrote.end(done);
  got.end(done);
});
