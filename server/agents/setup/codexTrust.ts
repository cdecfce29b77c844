/**
 * `gatehouse setup codex --trust`: Codex runs a user hook only once it is trusted (its
 * hash recorded in config.toml). This asks Codex itself, through `codex app-server`
 * (`hooks/list`, then `config/batchWrite`), to trust exactly the hooks it lists that are
 * ours (`gatehouse hook … --agent codex`), by the hash Codex computed for them; any other
 * hook stays as it is. Codex writes its own config.toml, so Gatehouse never edits TOML.
 * See docs/integrations.md, "Codex".
 */
import { isOurHookCommand } from './claudeSettings.ts';
import { AppServer } from '../codex/appServer.ts';

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** A hook Codex lists that `setup codex` wrote. */
export function isOurCodexHook(hook: Record<string, unknown>): boolean {
  return (
    hook.handlerType === 'command' &&
    hook.eventName === 'permissionRequest' &&
    isOurHookCommand(hook.command) &&
    /\s--agent\s+codex(\s|$)/.test(String(hook.command))
  );
}

export type TrustResult = { trusted: string[]; already: string[] };

export async function trustOurCodexHooks(bin: string, cwd: string, timeoutMs = 20_000): Promise<TrustResult> {
  const rpc = new AppServer(bin, cwd, {
    onRequest: async (method) => Promise.reject(new Error(`not answering ${method}`)),
    onNotification: () => {},
    onExit: () => {},
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>(
    (_, reject) => (timer = setTimeout(() => reject(new Error(`codex app-server did not answer within ${timeoutMs / 1000} s`)), timeoutMs)),
  );
  try {
    return await Promise.race([
      (async () => {
        await rpc.request('initialize', { clientInfo: { name: 'gatehouse-setup', title: 'Gatehouse setup', version: '0.1.0' } });
        rpc.notify('initialized');
        const listed = await rpc.request('hooks/list', { cwds: [cwd] });
        const hooks = (isRecord(listed) && Array.isArray(listed.data) ? listed.data : []).flatMap((entry) =>
          isRecord(entry) && Array.isArray(entry.hooks) ? entry.hooks.filter(isRecord) : [],
        );
        const ours = hooks.filter(isOurCodexHook).filter((hook) => typeof hook.key === 'string' && typeof hook.currentHash === 'string');
        const already = ours.filter((hook) => hook.trustStatus === 'trusted').map((hook) => String(hook.key));
        const toTrust = ours.filter((hook) => hook.trustStatus !== 'trusted');
        if (toTrust.length) {
          const value = Object.fromEntries(toTrust.map((hook) => [String(hook.key), { trusted_hash: String(hook.currentHash) }]));
          await rpc.request('config/batchWrite', { edits: [{ keyPath: 'hooks.state', mergeStrategy: 'upsert', value }] });
        }
        return { trusted: toTrust.map((hook) => String(hook.key)), already };
      })(),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
    // Its config write is done before `setup codex` says so.
    await rpc.close();
  }
}
