/**
 * `gatehouse opencode --url URL`: attaches to a running `opencode serve` and answers its
 * permission asks through Gatehouse (contract-2 §5; docs/integrations.md, "opencode").
 * Agent-side: it finds the server and the AGENT token like `hook` does
 * (server/agents/client/config.ts) and asks through the same client (ask.ts), proving
 * the server on a connection of its own for every ask. Runs until SIGINT/SIGTERM; logs
 * one line per ask on stderr (more with DEBUG=opencode).
 */
import { parseArgs } from 'node:util';
import { loadClientConfig } from '../agents/client/config.ts';
import { gatehouseBridge } from '../agents/client/bridgeAsk.ts';
import { OpencodeBridge } from '../agents/opencode/bridge.ts';
import { checkOpencodeUrl, OpencodeClient } from '../agents/opencode/opencodeClient.ts';

const USAGE =
  'Usage: gatehouse opencode --url URL [--directory DIR] [--username NAME]\n  (the password of `opencode serve`, if any, from OPENCODE_SERVER_PASSWORD)\n';

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
  const gatehouse = gatehouseBridge(config, log, verbose);
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
    ask: gatehouse.ask,
    cancel: gatehouse.cancel,
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
