/**
 * What `gatehouse setup claude` prints and merges: the Claude Code settings that wire
 * `gatehouse hook` (PermissionRequest by default, PreToolUse on request) or, with
 * `--http`, Claude Code's http hook calling `POST /api/hooks/claude` (no process per tool
 * call); in both, the "answered elsewhere" hooks (PostToolUse, PostToolUseFailure,
 * PermissionDenied, Stop) that cancel a request the human answered in the terminal; the deny
 * rules that keep the agent's own tools out of Gatehouse's data directory (its tokens
 * and database), and the MCP config for `gatehouse mcp`. Pure: paths and environment
 * come in as arguments. See docs/integrations.md, "What setup writes".
 */
import { CLAUDE_HOOK_PATH } from '../hook/claudeHook.ts';

export type HookEventChoice = 'PermissionRequest' | 'PreToolUse';

export type SetupOptions = {
  /** Absolute path of bin/gatehouse. */
  bin: string;
  event: HookEventChoice;
  /** The hook timeout written in the settings, in seconds; the request asks for less. */
  hookTimeoutSeconds: number;
  /** Passed to the hook and MCP server when not the defaults. */
  env: { GATEHOUSE_URL?: string | undefined; GATEHOUSE_DATA_DIR?: string | undefined };
  /** Gatehouse's data directory as absolute paths (as given, and its real path when
   *  that differs): the deny rules cover each. Empty: no deny rules. */
  dataDirs: string[];
  /** `--http`: Claude Code calls the server itself (`type: "http"`), at this base URL. */
  http?: { baseUrl: string; onFailure: HttpOnFailure };
};

/** What Claude Code does when the http hook fails (server down, non-2xx, timeout):
 *  `continue` steps aside (its own dialog asks, as the command hook does when the server
 *  is down); `block` fails closed (the permission request is denied). */
export type HttpOnFailure = 'continue' | 'block';

/** The events after which Claude Code has answered by itself (docs/integrations.md,
 *  "Answered in the terminal"). */
export const AFTER_HOOK_EVENTS = ['PostToolUse', 'PostToolUseFailure', 'PermissionDenied', 'Stop'] as const;
/** An after-event hook must never hold Claude Code up: a down server refuses at once, a
 *  silent one costs at most this. */
export const AFTER_HOOK_TIMEOUT_SECONDS = 3;

export const DEFAULT_SETUP_TIMEOUT_SECONDS = 130;
export const PERMISSION_PROMPT_TOOL = 'mcp__gatehouse__approve';

const shellQuote = (text: string) => (/^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`);

export function hookCommand(options: SetupOptions): string {
  const env = Object.entries(options.env)
    .filter(([, value]) => value)
    .map(([key, value]) => `${key}=${shellQuote(value!)}`);
  return [...env, shellQuote(options.bin), 'hook', '--timeout', String(options.hookTimeoutSeconds)].join(' ');
}

export type HookHandler = {
  type: string;
  command?: string;
  timeout?: number;
  async?: boolean;
  url?: string;
  headers?: Record<string, string>;
  allowedEnvVars?: string[];
  onFailure?: HttpOnFailure;
};
export type HookEntry = { matcher?: string; hooks: HookHandler[] };

/** The http hook: the agent token comes from Claude Code's environment (`$VAR` is
 *  interpolated only for the names in `allowedEnvVars`), never written in the file. */
function httpHandler(http: NonNullable<SetupOptions['http']>, timeout: number, query: string): HookHandler {
  return {
    type: 'http',
    url: `${http.baseUrl.replace(/\/+$/, '')}${CLAUDE_HOOK_PATH}${query}`,
    headers: { Authorization: 'Bearer $GATEHOUSE_AGENT_TOKEN' },
    allowedEnvVars: ['GATEHOUSE_AGENT_TOKEN'],
    timeout,
  };
}

export function hookEntry(options: SetupOptions): HookEntry {
  if (options.http) {
    // `?timeout=` tells the server the hook's budget: the request's own timeout goes below it.
    const handler = { ...httpHandler(options.http, options.hookTimeoutSeconds, `?timeout=${options.hookTimeoutSeconds}`), onFailure: options.http.onFailure };
    return { matcher: '*', hooks: [handler] };
  }
  return { matcher: '*', hooks: [{ type: 'command', command: hookCommand(options), timeout: options.hookTimeoutSeconds }] };
}

/** The after-event hook: a command hook runs in the background (`async: true`) and
 *  forwards the event; Claude Code 2.1.332 has no `async` for http hooks (they run in
 *  line), so the http one is answered at once and given a short timeout. */
export function afterHookEntry(options: SetupOptions, event: (typeof AFTER_HOOK_EVENTS)[number]): HookEntry {
  const handler: HookHandler = options.http
    ? httpHandler(options.http, AFTER_HOOK_TIMEOUT_SECONDS, '')
    : { type: 'command', command: hookCommand(options), timeout: 30, async: true };
  return event === 'Stop' ? { hooks: [handler] } : { matcher: '*', hooks: [handler] };
}

/** Characters Claude Code reads as pattern syntax in a rule (globs, brackets, escapes),
 *  and blanks and control characters: a data directory named with one would be matched
 *  as something else, so no rule is written for it (setup warns instead). */
const PATTERN_CHARACTERS = /[*?[\]{}()\\!#\s\x00-\x1f\x7f]/;

export function ruleSafePath(dir: string): boolean {
  return dir.startsWith('/') && !PATTERN_CHARACTERS.test(dir);
}

/**
 * Claude Code `permissions.deny` rules for the data directory (seen with Claude Code
 * 2.1.332, server/agents/claudeCode.setup.test.ts):
 * - `Read(//DIR/**)`: `//` starts an absolute path. Denies the Read tool, and Claude Code
 *   also applies it to the paths a Bash command names (`cat DIR/agent-token`,
 *   `cat ~/…`, `cd DIR && cat …` were all denied without asking).
 * - `Edit(//DIR/**)`: every file-editing tool (Write, Edit, NotebookEdit). A
 *   `Write(…)` path rule is ignored by Claude Code (it warns at start), so none is written.
 * - `Bash(*DIR*)`: any command that names the directory literally, e.g. inside an
 *   interpreter's code (`python3 -c "open('DIR/agent-token')"`), which Claude Code's
 *   path check does not see. Best effort: a command can build the path at run time.
 */
export function dataDirDenyRules(dirs: string[]): string[] {
  const rules: string[] = [];
  for (const raw of dirs) {
    const dir = raw.replace(/\/+$/, '');
    if (!dir || !ruleSafePath(dir)) continue;
    for (const rule of [`Read(/${dir}/**)`, `Edit(/${dir}/**)`, `Bash(*${dir}*)`]) if (!rules.includes(rule)) rules.push(rule);
  }
  return rules;
}

export type ClaudeSettings = { hooks: Record<string, HookEntry[]>; permissions?: { deny: string[] } };

export function claudeSettings(options: SetupOptions): ClaudeSettings {
  const deny = dataDirDenyRules(options.dataDirs);
  const hooks: Record<string, HookEntry[]> = { [options.event]: [hookEntry(options)] };
  for (const event of AFTER_HOOK_EVENTS) hooks[event] = [afterHookEntry(options, event)];
  return { hooks, ...(deny.length ? { permissions: { deny } } : {}) };
}

export function mcpConfig(options: SetupOptions): { mcpServers: Record<string, unknown> } {
  const env = Object.fromEntries(Object.entries(options.env).filter(([, value]) => value)) as Record<string, string>;
  return { mcpServers: { gatehouse: { type: 'stdio', command: options.bin, args: ['mcp'], ...(Object.keys(env).length ? { env } : {}) } } };
}

/** A hook command that runs `gatehouse hook` (ours, from any install path). */
export function isOurHookCommand(command: unknown): boolean {
  return typeof command === 'string' && /gatehouse['"]?\s+hook(\s|$)/.test(command);
}

/** One of our hooks: `gatehouse hook`, or an http hook to Gatehouse's endpoint. */
export function isOurHook(hook: unknown): boolean {
  if (!isObject(hook)) return false;
  if (isOurHookCommand(hook.command)) return true;
  if (hook.type !== 'http' || typeof hook.url !== 'string') return false;
  try {
    return new URL(hook.url).pathname === CLAUDE_HOOK_PATH;
  } catch {
    return false;
  }
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Merges our hooks and deny rules into existing settings: every other key, hook and rule
 * is kept; an earlier hook of ours (command or http, in any of our events) is replaced, never
 * duplicated; a deny rule already there is not added again.
 */
export function mergeSettings(existing: unknown, options: SetupOptions): Record<string, unknown> {
  if (existing !== undefined && !isObject(existing)) throw new Error('the settings file does not hold a JSON object');
  const settings: Record<string, unknown> = { ...(existing ?? {}) };
  const deny = dataDirDenyRules(options.dataDirs);
  if (deny.length) {
    if (settings.permissions !== undefined && !isObject(settings.permissions)) throw new Error('"permissions" in the settings file is not an object');
    const permissions: Record<string, unknown> = { ...((settings.permissions as Record<string, unknown> | undefined) ?? {}) };
    const present = permissions.deny ?? [];
    if (!Array.isArray(present)) throw new Error('"permissions.deny" in the settings file is not a list');
    permissions.deny = [...present, ...deny.filter((rule) => !present.includes(rule))];
    settings.permissions = permissions;
  }
  if (settings.hooks !== undefined && !isObject(settings.hooks)) throw new Error('"hooks" in the settings file is not an object');
  const hooks: Record<string, unknown> = { ...((settings.hooks as Record<string, unknown> | undefined) ?? {}) };
  for (const event of ['PermissionRequest', 'PreToolUse', ...AFTER_HOOK_EVENTS] as const) {
    const entries = hooks[event];
    if (entries === undefined) continue;
    if (!Array.isArray(entries)) throw new Error(`"hooks.${event}" in the settings file is not a list`);
    const kept = entries
      .map((entry) => {
        if (!isObject(entry) || !Array.isArray(entry.hooks)) return entry;
        const rest = entry.hooks.filter((hook) => !isOurHook(hook));
        return rest.length === entry.hooks.length ? entry : rest.length ? { ...entry, hooks: rest } : undefined;
      })
      .filter((entry) => entry !== undefined);
    if (kept.length) hooks[event] = kept;
    else delete hooks[event];
  }
  hooks[options.event] = [...((hooks[options.event] as unknown[] | undefined) ?? []), hookEntry(options)];
  for (const event of AFTER_HOOK_EVENTS) hooks[event] = [...((hooks[event] as unknown[] | undefined) ?? []), afterHookEntry(options, event)];
  settings.hooks = hooks;
  return settings;
}
