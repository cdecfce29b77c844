/**
 * A Vite build plugin that writes `dist/sw.js`: web/pwa/sw.ts bundled with esbuild, given
 * this build's version (a hash of every file it emits and of the public files) and the
 * list of its shell files. A new build thus has a new worker byte for byte, which the
 * browser installs, and a new cache, which replaces the old one.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { build } from 'esbuild';
import type { Plugin } from 'vite';
import { shellPaths } from '../../web/pwa/cachePolicy.ts';

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    return statSync(full).isDirectory() ? listFiles(full) : [full];
  });
}

export function serviceWorkerPlugin(options: { entry: string }): Plugin {
  let publicDir = '';
  return {
    name: 'gatehouse-service-worker',
    apply: 'build',
    configResolved(config) {
      publicDir = config.publicDir;
    },
    async generateBundle(_output, bundle) {
      const hash = createHash('sha256');
      const files: string[] = [];
      for (const [fileName, item] of Object.entries(bundle).sort(([a], [b]) => a.localeCompare(b))) {
        files.push(fileName);
        hash.update(fileName).update(item.type === 'chunk' ? item.code : item.source);
      }
      for (const full of listFiles(publicDir).sort()) {
        const fileName = relative(publicDir, full).split(sep).join('/');
        files.push(fileName);
        hash.update(fileName).update(readFileSync(full));
      }
      const version = hash.digest('hex').slice(0, 16);
      const shell = shellPaths(files);
      const result = await build({
        entryPoints: [options.entry],
        bundle: true,
        write: false,
        format: 'iife',
        target: 'es2022',
        legalComments: 'none',
        define: { __GATEHOUSE_VERSION__: JSON.stringify(version), __GATEHOUSE_SHELL__: JSON.stringify(shell) },
      });
      const [built] = result.outputFiles;
      if (!built) throw new Error('esbuild wrote no service worker');
      this.emitFile({ type: 'asset', fileName: 'sw.js', source: built.text });
    },
  };
}
