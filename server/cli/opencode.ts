/**
 * `gatehouse opencode --url URL`: attaches to a running `opencode serve` and answers its
 * permission asks through Gatehouse (contract-2 §5; docs/integrations.md, "opencode").
 * Agent-side: it finds the server and the AGENT token like `hook` does
 * (server/agents/client/config.ts) and asks through the same client (ask.ts), proving
 * the server on a connection of its own for every ask. Runs until SIGINT/SIGTERM; logs
 * one line per ask on stderr (more with DEBUG=opencode).
 */
import { parseArgs } from 'node:util';
import { LIMITS } from '../../protocol/index.ts';
import { askGatehouse } from '../agents/client/ask.ts';
import { loadClientConfig } from '../agents/client/config.ts';
import { PinnedServer } from '../agents/client/pinned.ts';
import { OpencodeBridge } from '../agents/opencode/bridge.ts';
import { checkOpencodeUrl, OpencodeClient } from '../agents/opencode/opencodeClient.ts';

const USAGE =
  'Usage: gatehouse opencode --url URL [--directory DIR] [--username NAME]\n  (the password of `opencode serve`, if any, from OPENCODE_SERVER_PASSWORD)\n';

export const OPENCODE_DEFAULTS = {
  createTimeoutMs: 3000,
  graceAfterExpiresMs: 5000,
} as const;

export default async function main(argv: string[]): Promise<number> {
  let flags: { url?: string; directory?: string; username?: string; help?: boolean };
  try {
    flags = parseArgs({
      args: argv,
      options: { url: { type: 'string' }, directory: { type: 'string' }, username: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: false,
      strict: true,
    }).values;
  } catch (error) {
    process.stderr.write(`gatehouse opencode: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (flags.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (!flags.url) {
    process.stderr.write(`gatehouse opencode: --url is required (the address of \`opencode serve\`)\n${USAGE}`);
    return 2;
  }
  const checked = checkOpencodeUrl(flags.url);
  if (!checked.ok) {
    process.stderr.write(`gatehouse opencode: ${checked.reason}\n${USAGE}`);
    return 2;
  }

  const env = process.env;
  const config = loadClientConfig(env);
  const verbose = /(^|[\s,])(\*|opencode|gatehouse:opencode)($|[\s,])/.test(env.DEBUG ?? '');
  const log = (message: string) => process.stderr.write(`gatehouse opencode: ${message}\n`);
  if (!config.agentToken) log(`${config.missingToken}; every ask will be rejected`);
  const opencode = new OpencodeClient({
    url: checked.url,
    directory: flags.directory,
    username: flags.username ?? env.OPENCODE_SERVER_USERNAME,
    password: env.OPENCODE_SERVER_PASSWORD,
  });
  let cwd: string | undefined = flags.directory;

  const bridge = new OpencodeBridge({
    cwd: () => cwd,
    ask: async (spec, onCreated, signal) => {
      if (!config.agentToken) return { kind: 'unavailable', down: false, reason: config.missingToken ?? 'no agent token' };
      const server = new PinnedServer({ baseUrl: config.baseUrl, agentToken: config.agentToken, log: verbose ? log : () => {} });
      try {
        return await askGatehouse(spec, {
          server,
          createTimeoutMs: OPENCODE_DEFAULTS.createTimeoutMs,
          giveUpAt: Date.now() + LIMITS.maxTimeoutMs,
          graceAfterExpiresMs: OPENCODE_DEFAULTS.graceAfterExpiresMs,
          signal,
          onCreated,
          // The id at once: this bridge cancels with its own reason (answered in the editor or elsewhere).
          createWaitSeconds: 0,
          log: (message) => {
            if (verbose) log(message);
          },
        });
      } finally {
        server.close();
      }
    },
    // Only after ask.ts created the request on this server; a proven connection of its own.
    cancel: async (requestId, reason) => {
      if (!config.agentToken) return;
      const server = new PinnedServer({ baseUrl: config.baseUrl, agentToken: config.agentToken, log: verbose ? log : () => {} });
      try {
        const answer = await server.call('DELETE', `/api/permission-requests/${encodeURIComponent(requestId)}?reason=${encodeURIComponent(reason)}`, {
          timeoutMs: 2000,
        });
        log(`cancelled ${requestId} (${reason}): ${answer.status}`);
      } finally {
        server.close();
      }
    },
    reply: (permissionId, body) => opencode.reply(permissionId, body),
    log,
  });

  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  log(`attaching to ${checked.url}; asking Gatehouse at ${config.baseUrl}`);
  await opencode.stream(
    {
      onOpen: async () => {
        if (!flags.directory) cwd = (await opencode.directory().catch(() => undefined)) ?? cwd;
        bridge.resync(await opencode.pending());
      },
      onEvent: (data) => bridge.onEvent(data),
      log: (message) => log(message),
    },
    stop.signal,
  );
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  await bridge.close();
  return 0;
}
