/**
 * What `gatehouse setup claude` prints and merges: the Claude Code settings that wire
 * `gatehouse hook` (PermissionRequest by default, PreToolUse on request) and the MCP
 * config for `gatehouse mcp`. Pure: paths and environment come in as arguments.
 */

export type HookEventChoice = 'PermissionRequest' | 'PreToolUse';

export type SetupOptions = {
  /** Absolute path of bin/gatehouse. */
  bin: string;
  event: HookEventChoice;
  /** The hook timeout written in the settings, in seconds; the request asks for less. */
  hookTimeoutSeconds: number;
  /** Passed to the hook and MCP server when not the defaults. */
  env: { GATEHOUSE_URL?: string; GATEHOUSE_DATA_DIR?: string };
};

export const DEFAULT_SETUP_TIMEOUT_SECONDS = 130;
export const PERMISSION_PROMPT_TOOL = 'mcp__gatehouse__approve';

const shellQuote = (text: string) => (/^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`);

export function hookCommand(options: SetupOptions): string {
  const env = Object.entries(options.env)
    .filter(([, value]) => value)
    .map(([key, value]) => `${key}=${shellQuote(value!)}`);
  return [...env, shellQuote(options.bin), 'hook', '--timeout', String(options.hookTimeoutSeconds)].join(' ');
}

export type HookEntry = { matcher?: string; hooks: Array<{ type: string; command?: string; timeout?: number }> };

export function hookEntry(options: SetupOptions): HookEntry {
  return { matcher: '*', hooks: [{ type: 'command', command: hookCommand(options), timeout: options.hookTimeoutSeconds }] };
}

export function claudeSettings(options: SetupOptions): { hooks: Record<string, HookEntry[]> } {
  return { hooks: { [options.event]: [hookEntry(options)] } };
}

export function mcpConfig(options: SetupOptions): { mcpServers: Record<string, unknown> } {
  const env = Object.fromEntries(Object.entries(options.env).filter(([, value]) => value)) as Record<string, string>;
  return { mcpServers: { gatehouse: { type: 'stdio', command: options.bin, args: ['mcp'], ...(Object.keys(env).length ? { env } : {}) } } };
}

/** A hook command that runs `gatehouse hook` (ours, from any install path). */
export function isOurHookCommand(command: unknown): boolean {
  return typeof command === 'string' && /gatehouse['"]?\s+hook(\s|$)/.test(command);
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Merges our hook into existing settings: every other key and hook is kept; an earlier
 * `gatehouse hook` entry (in either event) is replaced, never duplicated.
 */
export function mergeSettings(existing: unknown, options: SetupOptions): Record<string, unknown> {
  if (existing !== undefined && !isObject(existing)) throw new Error('the settings file does not hold a JSON object');
  const settings: Record<string, unknown> = { ...(existing ?? {}) };
  if (settings.hooks !== undefined && !isObject(settings.hooks)) throw new Error('"hooks" in the settings file is not an object');
  const hooks: Record<string, unknown> = { ...((settings.hooks as Record<string, unknown> | undefined) ?? {}) };
  for (const event of ['PermissionRequest', 'PreToolUse'] as const) {
    const entries = hooks[event];
    if (entries === undefined) continue;
    if (!Array.isArray(entries)) throw new Error(`"hooks.${event}" in the settings file is not a list`);
    const kept = entries
      .map((entry) => {
        if (!isObject(entry) || !Array.isArray(entry.hooks)) return entry;
        const rest = entry.hooks.filter((hook) => !(isObject(hook) && isOurHookCommand(hook.command)));
        return rest.length === entry.hooks.length ? entry : rest.length ? { ...entry, hooks: rest } : undefined;
      })
      .filter((entry) => entry !== undefined);
    if (kept.length) hooks[event] = kept;
    else delete hooks[event];
  }
  hooks[options.event] = [...((hooks[options.event] as unknown[] | undefined) ?? []), hookEntry(options)];
  settings.hooks = hooks;
  return settings;
}
