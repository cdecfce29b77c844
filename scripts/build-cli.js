#!/usr/bin/env node
// Builds the commands into plain JavaScript in dist-cli/ (apart from dist/, which the web
// build empties), so that bin/gatehouse starts them with bare `node` instead of compiling
// TypeScript through tsx each time:
// - `hook`, `mcp` and `setup`, which Claude Code runs on every tool call (about 0.1 s
//   instead of 0.5 to 1 s: the hook must step aside within 3 s, process start included),
//   and the ACP proxy `acp` that an editor starts as its agent;
// - `serve`, the server (SPEC CORE-F1: no tsx at run time; tsx's compile-on-load was 0.2
//   to 0.3 s of every start, BENCHMARKS.md "Restart").
// Runs on `npm install` (prepare), `npm run build`, `npm test` and `npm start` (when
// stale). bin/gatehouse falls back to tsx when a source is newer than the bundle
// (CORE-F2, `isBundleFresh` below says what counts as a source).
//
// Every package stays external (`packages: 'external'`): better-sqlite3 is a native
// module, the agent SDKs are optional and imported on first use, and node_modules is
// where they are found at run time. Only our own TypeScript is bundled.
import { build } from 'esbuild';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export const COMMANDS = ['serve', 'hook', 'mcp', 'setup', 'acp'];
/** The folders whose TypeScript goes into the bundles; bin/gatehouse checks the same. */
export const SOURCE_DIRS = ['server', 'protocol', 'machines'];

export function bundlePath(command, base = root) {
  return join(base, 'dist-cli', `${command}.mjs`);
}

function newestTs(dir) {
  if (!existsSync(dir)) return 0;
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestTs(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** The same rule as bin/gatehouse (CORE-F2): the bundle exists and no .ts file under
 *  SOURCE_DIRS is newer than it. */
export function isBundleFresh(command, base = root) {
  const bundle = bundlePath(command, base);
  if (!existsSync(bundle)) return false;
  const builtAt = statSync(bundle).mtimeMs;
  return SOURCE_DIRS.every((dir) => newestTs(join(base, dir)) <= builtAt);
}

/**
 * A module that finds a file next to itself (`new URL('./x', import.meta.url)`, a
 * worker script) would look for it in dist-cli/ once bundled, where it is not: refuse to
 * build rather than ship a server that fails at run time (CORE-F3). Paths to the
 * repository root work (dist-cli/ sits one level down, like server/), as server/config.ts
 * does; a worker started from a file must be an entry of its own here (a worker whose
 * source is inline, `eval: true`, as server/store/walCheckpointer.ts starts, needs no file).
 */
const selfRelative = /new\s+URL\(\s*['"`]\.\.?\/|new\s+Worker\(\s*(new\s+URL|['"`]\.)/;
const refuseSelfRelativePaths = (base) => ({
  name: 'refuse-self-relative-paths',
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, (args) => {
      if (args.path.endsWith('.test.ts')) return undefined;
      const text = readFileSync(args.path, 'utf8');
      const line = text.split('\n').findIndex((l) => selfRelative.test(l) && !l.trimStart().startsWith('//') && !l.trimStart().startsWith('*'));
      if (line < 0) return undefined;
      return {
        errors: [
          {
            text: `${relative(base, args.path)}:${line + 1} resolves a path relative to its own file (new URL('./…', import.meta.url) or a Worker): in dist-cli/ that file is not there. Resolve it from the repository root (as server/config.ts does) or build it as an entry of its own in scripts/build-cli.js.`,
          },
        ],
      };
    });
  },
});

/** Builds `commands` from the sources under `base` (default this repository) into
 *  `base`/dist-cli/. */
export async function buildCommands(commands = COMMANDS, base = root) {
  for (const command of commands) {
    await build({
      stdin: {
        contents: `
          import main from './server/cli/${command}.ts';
          main(process.argv.slice(2)).then(
            (code) => { process.exitCode = typeof code === 'number' ? code : 0; },
            (error) => { process.stderr.write('gatehouse ${command}: ' + (error?.message ?? String(error)) + '\\n'); process.exitCode = 1; },
          );`,
        resolveDir: base,
        sourcefile: `${command}-entry.ts`,
        loader: 'ts',
      },
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external',
      plugins: [refuseSelfRelativePaths(base)],
      outfile: bundlePath(command, base),
      logLevel: 'warning',
    });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  // `--if-stale`: only the bundles a source is newer than (npm start).
  const stale = process.argv.includes('--if-stale') ? COMMANDS.filter((c) => !isBundleFresh(c)) : COMMANDS;
  if (stale.length) await buildCommands(stale);
}
