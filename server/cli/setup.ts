/**
 * `gatehouse setup claude`: prints the Claude Code settings JSON that wires
 * `gatehouse hook` to this server (PermissionRequest by default) and denies the agent's
 * own tools Gatehouse's data directory (GATEHOUSE_DATA_DIR, else ~/.gatehouse: its
 * tokens and database), or merges them into a settings file with `--write FILE`,
 * keeping every other key. See docs/integrations.md, "What setup writes".
 *
 *   --pre-tool-use     wire the PreToolUse hook instead (fires for every tool call)
 *   --http             Claude Code's http hook instead of the command: it POSTs to
 *                      URL/api/hooks/claude with `Authorization: Bearer
 *                      $GATEHOUSE_AGENT_TOKEN` (from Claude Code's environment), no
 *                      process per tool call
 *   --fail-closed      with --http: when Gatehouse cannot be asked, deny
 *                      (`onFailure: "block"`) instead of letting Claude Code's own
 *                      dialog ask (`"continue"`, the default)
 *   --mcp              print {"settings", "mcpConfig", "permissionPromptTool"} instead,
 *                      with the MCP config for `gatehouse mcp`
 *   --timeout S        the hook timeout in seconds (default 130; the request asks for
 *                      S - 10 s, so the server's own timeout deny arrives first)
 *   --url URL          the server URL baked into the command (default GATEHOUSE_URL)
 *   --write FILE       merge into FILE (e.g. ~/.claude/settings.json or
 *                      .claude/settings.json) instead of printing
 *
 * `gatehouse setup codex [--timeout S] [--url URL] [--write FILE]`: the Codex CLI hooks
 * file (`$CODEX_HOME/hooks.json`) whose PermissionRequest hook runs `gatehouse hook
 * --agent codex` (server/agents/setup/codexHooks.ts); docs/integrations.md, "Codex".
 */
import { existsSync, readFileSync, realpathSync, renameSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { dataDirOf, DEFAULT_URL } from '../agents/client/config.ts';
import {
  claudeSettings,
  DEFAULT_SETUP_TIMEOUT_SECONDS,
  mcpConfig,
  mergeSettings,
  PERMISSION_PROMPT_TOOL,
  ruleSafePath,
  type SetupOptions,
} from '../agents/setup/claudeSettings.ts';
import { codexHooksFile, mergeCodexHooks } from '../agents/setup/codexHooks.ts';
import { trustOurCodexHooks } from '../agents/setup/codexTrust.ts';

/** The launcher's absolute path: the nearest `bin/gatehouse` above this module, which runs
 *  from server/cli/ as TypeScript or from dist-cli/ as the built bundle. */
function findLauncher(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const candidate = join(dir, 'bin', 'gatehouse');
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) return resolve('bin/gatehouse');
  }
}
const BIN = findLauncher();

const USAGE = `Usage: gatehouse setup claude [--pre-tool-use] [--http [--fail-closed]] [--mcp] [--timeout SECONDS] [--url URL] [--write FILE]
       gatehouse setup codex [--timeout SECONDS] [--url URL] [--write FILE] [--trust [--codex-bin PATH]]   (FILE: $CODEX_HOME/hooks.json)`;

/** The data directory as the hook will use it, and its real path when a symlink leads
 *  elsewhere (Claude Code may see either). */
function dataDirsOf(env: NodeJS.ProcessEnv): string[] {
  const dir = dataDirOf(env);
  let real: string | undefined;
  try {
    real = realpathSync(dir);
  } catch {
    real = undefined; // not created yet: the server makes it on first start
  }
  const dirs = real && real !== dir ? [dir, real] : [dir];
  for (const unsafe of dirs.filter((candidate) => !ruleSafePath(candidate))) {
    process.stderr.write(
      `gatehouse setup: warning: the data directory ${JSON.stringify(unsafe)} holds characters that Claude Code reads as pattern syntax (or blanks), so no deny rule is written for it: the agent's tools are not kept out of it. Use a plain GATEHOUSE_DATA_DIR.\n`,
    );
  }
  return dirs;
}

function fail(message: string): number {
  process.stderr.write(`gatehouse setup: ${message}\n${USAGE}\n`);
  return 2;
}

export default async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        'pre-tool-use': { type: 'boolean' },
        http: { type: 'boolean' },
        'fail-closed': { type: 'boolean' },
        mcp: { type: 'boolean' },
        timeout: { type: 'string' },
        url: { type: 'string' },
        write: { type: 'string' },
        trust: { type: 'boolean' },
        'codex-bin': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    return fail((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  if (positionals.length !== 1 || (positionals[0] !== 'claude' && positionals[0] !== 'codex')) return fail('the target is "claude" or "codex"');
  const target = positionals[0];
  if (target === 'codex' && (values['pre-tool-use'] || values.mcp)) return fail('--pre-tool-use and --mcp are for "claude" only');
  if (target === 'claude' && (values.trust || values['codex-bin'])) return fail('--trust and --codex-bin are for "codex" only');
  const timeout = values.timeout === undefined ? DEFAULT_SETUP_TIMEOUT_SECONDS : Number(values.timeout);
  if (!Number.isInteger(timeout) || timeout < 15 || timeout > 86_400) return fail('--timeout must be a whole number of seconds from 15 to 86400');
  const url = values.url ?? process.env.GATEHOUSE_URL;
  if (url !== undefined) {
    try {
      new URL(url);
    } catch {
      return fail(`--url ${JSON.stringify(url)} is not a URL`);
    }
  }
  if (values['fail-closed'] && !values.http) return fail('--fail-closed goes with --http (the command hook steps aside when the server is down)');
  const options: SetupOptions = {
    bin: BIN,
    event: values['pre-tool-use'] ? 'PreToolUse' : 'PermissionRequest',
    hookTimeoutSeconds: timeout,
    env: { GATEHOUSE_URL: url, GATEHOUSE_DATA_DIR: process.env.GATEHOUSE_DATA_DIR ? resolve(process.env.GATEHOUSE_DATA_DIR) : undefined },
    dataDirs: dataDirsOf(process.env),
    ...(values.http ? { http: { baseUrl: url ?? DEFAULT_URL, onFailure: values['fail-closed'] ? ('block' as const) : ('continue' as const) } } : {}),
  };
  if (values.http) {
    // The http hook reads the agent token from Claude Code's environment: say how it gets there.
    process.stderr.write(
      `gatehouse setup: the http hook sends $GATEHOUSE_AGENT_TOKEN from Claude Code's environment; start Claude Code with it set to the agent token (never the owner token), e.g. GATEHOUSE_AGENT_TOKEN="$(cat ${join(dataDirOf(process.env), 'agent-token')})" claude\n`,
    );
  }

  if (target === 'codex') {
    if (!values.write && !values.trust) return setupCodex(options, undefined);
    const written = values.write ? setupCodex(options, values.write) : 0;
    if (written !== 0 || !values.trust) return written;
    return trustCodex(values['codex-bin'] ?? process.env.GATEHOUSE_CODEX_BIN ?? 'codex');
  }

  if (values.write) {
    const file = resolve(values.write);
    const written = mergeJsonFile(file, (existing) => mergeSettings(existing, options));
    if (written !== 0) return written;
    process.stderr.write(
      `gatehouse setup: wired the ${options.http ? 'http ' : ''}${options.event} hook and the answered-in-terminal hooks into ${file}, with deny rules keeping Claude Code's tools out of ${options.dataDirs.join(' and ')}\n`,
    );
    if (values.mcp) process.stdout.write(JSON.stringify(mcpConfig(options), null, 2) + '\n');
    return 0;
  }

  const settings = claudeSettings(options);
  const output = values.mcp ? { settings, mcpConfig: mcpConfig(options), permissionPromptTool: PERMISSION_PROMPT_TOOL } : settings;
  process.stdout.write(JSON.stringify(output, null, 2) + '\n');
  return 0;
}

/** `setup codex`: print the hooks file, or merge it into FILE (atomic; a file that is not
 *  a JSON object of the hooks shape is left unchanged with an error). */
function setupCodex(options: SetupOptions, write: string | undefined): number {
  if (!write) {
    process.stdout.write(JSON.stringify(codexHooksFile(options), null, 2) + '\n');
    return 0;
  }
  const file = resolve(write);
  if (/\.toml$/i.test(file)) return fail(`${file}: setup codex writes the hooks file (JSON, e.g. ~/.codex/hooks.json), not config.toml; it was left unchanged`);
  const written = mergeJsonFile(file, (existing) => mergeCodexHooks(existing, options));
  if (written !== 0) return written;
  process.stderr.write(
    `gatehouse setup: wired the PermissionRequest hook into ${file}. Codex runs a user hook only once it is trusted: add --trust (Codex records its hash), or \`codex exec --dangerously-bypass-hook-trust\` (docs/integrations.md, "Codex").\n`,
  );
  return 0;
}

/** `--trust`: Codex trusts our hooks (and only ours) by the hash it computed. */
async function trustCodex(bin: string): Promise<number> {
  try {
    const result = await trustOurCodexHooks(bin, process.cwd());
    if (result.trusted.length === 0 && result.already.length === 0)
      return fail('Codex lists no gatehouse hook to trust (write one first: setup codex --write $CODEX_HOME/hooks.json)');
    for (const key of result.trusted) process.stderr.write(`gatehouse setup: Codex now trusts the hook ${key}\n`);
    for (const key of result.already) process.stderr.write(`gatehouse setup: Codex already trusted the hook ${key}\n`);
    return 0;
  } catch (error) {
    return fail(`could not trust the hook through ${JSON.stringify(bin)} app-server (${(error as Error).message})`);
  }
}

/** Reads FILE as JSON (absent: undefined), merges, and writes it back atomically with its
 *  mode kept; anything unreadable or refused by `merge` leaves it unchanged, with an error. */
function mergeJsonFile(file: string, merge: (existing: unknown) => unknown): number {
  let existing: unknown;
  let mode = 0o644;
  try {
    const text = readFileSync(file, 'utf8');
    mode = statSync(file).mode & 0o777;
    existing = text.trim() ? JSON.parse(text) : undefined;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') return fail(`cannot read ${file} as JSON (${(error as Error).message}); it was left unchanged`);
  }
  let merged: unknown;
  try {
    merged = merge(existing);
  } catch (error) {
    return fail(`${(error as Error).message}; ${file} was left unchanged`);
  }
  mkdirSync(dirname(file), { recursive: true });
  const temp = join(dirname(file), `.${process.pid}.gatehouse-settings.tmp`);
  writeFileSync(temp, `${JSON.stringify(merged, null, 2)}\n`, { mode });
  renameSync(temp, file);
  return 0;
}
