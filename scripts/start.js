#!/usr/bin/env node
// `npm start`: build the web UI when dist/ is missing or older than its sources, and the
// server's bundle (dist-cli/serve.mjs, SPEC CORE-F1) when a source is newer than it, then
// serve. Plain JavaScript, so that Node 20 runs it with no loader.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { buildCommands, COMMANDS, isBundleFresh } from './build-cli.js';

const root = process.cwd();

function newestMtime(path) {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

const builtAt = newestMtime(join(root, 'dist', 'index.html'));
const sourcesAt = Math.max(...['web', 'protocol', 'machines', 'vite.config.ts'].map((p) => newestMtime(join(root, p))));
if (!builtAt || sourcesAt > builtAt) {
  console.error(builtAt ? 'Web UI is stale: building it.' : 'Web UI not built yet: building it.');
  const build = spawnSync(join(root, 'node_modules', '.bin', 'vite'), ['build', '--logLevel', 'warn'], { stdio: 'inherit' });
  if (build.status !== 0) process.exit(build.status ?? 1);
}

// The server runs from JavaScript built ahead; a stale bundle would make bin/gatehouse
// fall back to tsx (CORE-F2), so build it first.
const stale = COMMANDS.filter((command) => !isBundleFresh(command, root));
if (stale.length) {
  console.error(`Building ${stale.join(', ')} (dist-cli/).`);
  await buildCommands(stale);
}

// Node cannot exec(): run the server as a child and pass our stop signals on to it.
const server = spawn(join(root, 'bin', 'gatehouse'), ['serve', ...process.argv.slice(2)], { stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.kill(signal));
server.on('exit', (code, signal) => process.exit(code ?? (signal ? 0 : 1)));
