/**
 * `bin/gatehouse serve` runs the server from JavaScript built ahead (dist-cli/serve.mjs),
 * and from the TypeScript sources through tsx when a source is newer than the bundle.
 * Runs in a copy of the launcher and the sources in a temporary directory (node_modules
 * linked), so that it builds, touches and edits nothing of the repository.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCommands, isBundleFresh, SOURCE_DIRS } from './build-cli.js';

const REPO = resolve(import.meta.dirname, '..');
let copy = '';

/** Starts the copy's launcher; resolves with what runs (its command line) and the port. */
async function serve(): Promise<{ cmdline: string; port: number; stop: () => Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-bundle-data-'));
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('GATEHOUSE_') && key !== 'DEBUG') env[key] = value;
  const proc = spawn(join(copy, 'bin/gatehouse'), ['serve', '--port', '0', '--data-dir', dataDir, '--no-auth', '--agent', 'demo'], {
    cwd: tmpdir(),
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((done) => proc.on('exit', () => done()));
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
    await exited;
    rmSync(dataDir, { recursive: true, force: true });
  };
  let out = '';
  let err = '';
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  try {
    const port = await new Promise<number>((done, fail) => {
      proc.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const match = /Gatehouse listening on http:\/\/[^\s/]+:(\d+)/.exec(out);
        if (match?.[1]) done(Number(match[1]));
      });
      void exited.then(() => fail(new Error(`serve exited before its ready line\n${err}`)));
    });
    // `exec` keeps the process: its command line is what the launcher chose to run.
    const cmdline = readFileSync(`/proc/${proc.pid}/cmdline`, 'utf8').split('\0').join(' ');
    return { cmdline, port, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

describe('serve from a bundle (CORE-F)', () => {
  beforeAll(async () => {
    copy = mkdtempSync(join(tmpdir(), 'gatehouse-bundle-'));
    for (const dir of [...SOURCE_DIRS, 'bin']) cpSync(join(REPO, dir), join(copy, dir), { recursive: true });
    cpSync(join(REPO, 'package.json'), join(copy, 'package.json'));
    symlinkSync(join(REPO, 'node_modules'), join(copy, 'node_modules'));
    // A web UI of our own, to see that the bundle finds the root it sits in.
    mkdirSync(join(copy, 'dist'));
    writeFileSync(join(copy, 'dist', 'index.html'), '<!doctype html><title>bundle-root-marker</title>');
    await buildCommands(['serve'], copy);
  });
  afterAll(() => {
    if (copy) rmSync(copy, { recursive: true, force: true });
  });

  it('CORE-F1: bin/gatehouse serve runs dist-cli/serve.mjs with plain node (no tsx), and paths from the repository root (the web UI) resolve as from the sources', async () => {
    expect(isBundleFresh('serve', copy)).toBe(true);
    const server = await serve();
    try {
      expect(server.cmdline).toContain(join(copy, 'dist-cli/serve.mjs'));
      expect(server.cmdline).not.toContain('tsx');
      const page = await fetch(`http://127.0.0.1:${server.port}/`);
      expect(await page.text()).toContain('bundle-root-marker');
    } finally {
      await server.stop();
    }
  });

  it('CORE-F2: a source newer than the bundle makes it stale: bin/gatehouse serve runs the TypeScript through tsx instead', async () => {
    const later = new Date(Date.now() + 60_000);
    utimesSync(join(copy, 'machines/broker.machine.ts'), later, later);
    expect(isBundleFresh('serve', copy)).toBe(false);
    const server = await serve();
    try {
      expect(server.cmdline).toContain('tsx');
      expect(server.cmdline).toContain(join(copy, 'server/cli/main.ts'));
    } finally {
      await server.stop();
    }
  });

  it('CORE-F3: the build refuses a module that finds a file next to itself (new URL("./…", import.meta.url)), naming it', async () => {
    writeFileSync(
      join(copy, 'server/cli/selfRelative.ts'),
      "export default async function main() {\n  return new URL('./data.txt', import.meta.url).href.length;\n}\n",
    );
    await expect(buildCommands(['selfRelative'], copy)).rejects.toThrow(/server\/cli\/selfRelative\.ts:2 resolves a path relative to its own file/);
  });
});
