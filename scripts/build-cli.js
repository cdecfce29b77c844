#!/usr/bin/env node
// Builds the commands that Claude Code runs on every tool call (`hook`, `mcp`, and
// `setup` with them), and the ACP proxy `acp` that an editor starts as its agent, into plain JavaScript in dist-cli/ (apart from dist/, which the web build empties), so that bin/gatehouse starts
// them with bare `node` instead of compiling TypeScript through tsx each time (about
// 0.1 s instead of 0.5 to 1 s: the hook must step aside within 3 s, process start
// included). Runs on `npm install` (prepare), `npm run build` and `npm test`.
// bin/gatehouse falls back to tsx when a source is newer than the bundle.
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

for (const command of ['hook', 'mcp', 'setup', 'acp']) {
  await build({
    stdin: {
      contents: `
        import main from './server/cli/${command}.ts';
        main(process.argv.slice(2)).then(
          (code) => { process.exitCode = typeof code === 'number' ? code : 0; },
          (error) => { process.stderr.write('gatehouse ${command}: ' + (error?.message ?? String(error)) + '\\n'); process.exitCode = 1; },
        );`,
      resolveDir: root,
      sourcefile: `${command}-entry.ts`,
      loader: 'ts',
    },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    outfile: join(root, 'dist-cli', `${command}.mjs`),
    logLevel: 'warning',
  });
}
