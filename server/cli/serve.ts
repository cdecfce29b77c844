/**
 * `gatehouse serve`: parse flags and environment, start the server, print the ready line
 * (the only place the token is printed), and stop cleanly on SIGINT/SIGTERM within 5 s
 * with exit code 0. The agents plugin (chat sessions, rules, audit) is always mounted.
 */
import { ConfigError, USAGE, parseServeArgs } from '../config.ts';
import { createLogger } from '../log.ts';
import createAgentsPlugin from '../agents/plugin.ts';
import { startServer } from '../server.ts';

const STOP_DEADLINE_MS = 4_500;

export default async function main(argv: string[]): Promise<number | void> {
  let parsed;
  try {
    parsed = parseServeArgs(argv, process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`gatehouse serve: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  if (parsed.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const config = parsed.config;
  const logger = createLogger({ debug: config.debug });

  process.on('unhandledRejection', (reason) => logger.error('unhandled rejection', { error: String((reason as Error)?.stack ?? reason) }));
  process.on('uncaughtException', (error) => logger.error('uncaught exception', { error: String(error?.stack ?? error) }));

  let server;
  try {
    server = await startServer(config, { logger, plugins: [createAgentsPlugin] });
  } catch (error) {
    process.stderr.write(`gatehouse serve: ${(error as Error)?.message ?? String(error)}\n`);
    return 1;
  }
  process.stdout.write(server.readyLine + '\n');
  logger.debug('server', 'ready', { port: server.port, epoch: server.epoch, dataDir: config.dataDir, auth: config.auth });

  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      process.exit(1);
    }
    signalled = true;
    logger.debug('server', 'signal', { signal });
    // The contract: exit 0 within 5 s, whatever hangs.
    setTimeout(() => {
      logger.warn('shutdown took too long; exiting');
      process.exit(0);
    }, STOP_DEADLINE_MS).unref();
    server.stop().then(
      () => process.exit(0),
      (error) => {
        logger.error('shutdown failed', { error: String(error) });
        process.exit(0);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return new Promise<number>(() => {});
}
