/**
 * What `gatehouse setup codex` prints and merges: the Codex CLI hooks file
 * (`$CODEX_HOME/hooks.json`, default `~/.codex/hooks.json`) whose `PermissionRequest`
 * hook runs `gatehouse hook --agent codex`. The hooks file and not a `[hooks]` table in
 * `config.toml`: Codex reads both with the same shape, and JSON is merged exactly with
 * the platform's own parser, while the user's config.toml (model, providers, trust
 * state) is never rewritten by a hand-made TOML parser. Pure: paths and environment come
 * in as arguments. See docs/integrations.md, "Codex".
 */
import { hookCommand, isOurHookCommand, type SetupOptions } from './claudeSettings.ts';

export type CodexSetupOptions = Pick<SetupOptions, 'bin' | 'hookTimeoutSeconds' | 'env'>;

export type CodexHook = { type: 'command'; command: string; timeout: number };
export type CodexHooksFile = { hooks: { PermissionRequest: Array<{ hooks: CodexHook[] }> } };

export function codexHookCommand(options: CodexSetupOptions): string {
  return `${hookCommand({ ...options, event: 'PermissionRequest', dataDirs: [] })} --agent codex`;
}

export function codexHook(options: CodexSetupOptions): CodexHook {
  return { type: 'command', command: codexHookCommand(options), timeout: options.hookTimeoutSeconds };
}

export function codexHooksFile(options: CodexSetupOptions): CodexHooksFile {
  return { hooks: { PermissionRequest: [{ hooks: [codexHook(options)] }] } };
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Merges our hook into an existing hooks file: every other key, event and hook is kept;
 * an earlier `gatehouse hook` entry (in any event) is removed first, so ours is never
 * duplicated. Throws, naming the key, on a shape Codex would not read either.
 */
export function mergeCodexHooks(existing: unknown, options: CodexSetupOptions): Record<string, unknown> {
  if (existing !== undefined && !isObject(existing)) throw new Error('the hooks file does not hold a JSON object');
  const file: Record<string, unknown> = { ...(existing ?? {}) };
  if (file.hooks !== undefined && !isObject(file.hooks)) throw new Error('"hooks" in the hooks file is not an object');
  const hooks: Record<string, unknown> = { ...((file.hooks as Record<string, unknown> | undefined) ?? {}) };
  for (const [event, entries] of Object.entries(hooks)) {
    if (!Array.isArray(entries)) throw new Error(`"hooks.${event}" in the hooks file is not a list`);
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
  hooks.PermissionRequest = [...((hooks.PermissionRequest as unknown[] | undefined) ?? []), { hooks: [codexHook(options)] }];
  file.hooks = hooks;
  return file;
}
