/**
 * The real agents the integration tests drive (Gemini CLI, claude-agent-acp, …) are not
 * dependencies of Gatehouse: users bring their own. Tests install pinned versions, once,
 * into a cache folder outside the repository (like Playwright's browsers), then reuse
 * them offline. `GATEHOUSE_AGENT_CACHE` (default `~/.cache/gatehouse-agents`) holds one
 * folder per `name@version`. Two test files installing at once are safe: each installs
 * into a temporary folder beside the target and renames it into place; the rename is
 * atomic, and the loser throws its copy away. Every install prints its timing.
 * docs/testing.md, "Real agents".
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const PINNED_AGENTS = {
  gemini: { package: '@google/gemini-cli', version: '0.61.0', bin: 'gemini' },
  claudeAcp: { package: '@zed-industries/claude-agent-acp', version: '0.23.1', bin: 'claude-agent-acp' },
  codex: { package: '@openai/codex', version: '0.171.0', bin: 'codex' },
  // npm skips opencode-ai's postinstall (--ignore-scripts), which would put the platform
  // binary in place of its `.bin` stub: run the platform package's binary directly.
  opencode: { package: 'opencode-ai', version: '1.18.33', bin: 'opencode', binPath: `node_modules/opencode-${process.platform}-${process.arch}/bin/opencode` },
} as const satisfies Record<string, { package: string; version: string; bin: string; binPath?: string }>;
export type PinnedAgent = keyof typeof PINNED_AGENTS;

export function agentCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.GATEHOUSE_AGENT_CACHE?.trim() || join(env.HOME?.trim() || homedir(), '.cache', 'gatehouse-agents');
}

const COMPLETE = '.gatehouse-complete';

function run(command: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.on('error', (error) => resolve({ code: null, output: output + String(error) }));
    child.on('close', (code) => resolve({ code, output }));
  });
}

/** The folder of an installed agent (installing it first when missing) and its binary. */
export async function installAgent(name: PinnedAgent, env: NodeJS.ProcessEnv = process.env): Promise<{ dir: string; bin: string }> {
  const spec = PINNED_AGENTS[name];
  const cache = agentCacheDir(env);
  const dir = join(cache, `${spec.package.replace('/', '+')}@${spec.version}`);
  const binPath = 'binPath' in spec ? spec.binPath : join('node_modules', '.bin', spec.bin);
  const bin = join(dir, binPath);
  if (existsSync(join(dir, COMPLETE)) && existsSync(bin)) return { dir, bin };
  mkdirSync(cache, { recursive: true });
  const temp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  const started = Date.now();
  const result = await run('npm', [
    'install',
    '--prefix',
    temp,
    '--no-save',
    '--ignore-scripts',
    '--no-audit',
    '--no-fund',
    '--loglevel',
    'error',
    `${spec.package}@${spec.version}`,
  ]);
  if (result.code !== 0 || !existsSync(join(temp, binPath))) {
    rmSync(temp, { recursive: true, force: true });
    throw new Error(
      `could not install ${spec.package}@${spec.version} into ${cache} (npm exit ${result.code}); the real-agent tests need it once, online:\n${result.output.slice(-2000)}`,
    );
  }
  writeFileSync(join(temp, COMPLETE), `${spec.package}@${spec.version}\n`);
  try {
    renameSync(temp, dir);
  } catch {
    // Another test file finished first (the target exists): use its copy.
    rmSync(temp, { recursive: true, force: true });
  }
  if (!existsSync(join(dir, COMPLETE))) throw new Error(`${dir} is incomplete: remove it and run again`);
  console.log(`[agents] installed ${spec.package}@${spec.version} into ${dir} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return { dir, bin };
}
