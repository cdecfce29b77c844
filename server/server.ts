/**
 * The composition root: builds the store, broker host, hub, app and HTTP server from a
 * Config, listens, and knows how to stop cleanly (protocol-v1.md §1, SIGINT/SIGTERM:
 * stop accepting, answer open long-polls, close sockets with 1001, flush the store).
 * `serve` (cli/serve.ts) wraps it with argv, the ready line and signals; tests and
 * benchmarks may call it in-process.
 */
import { createAdaptorServer } from '@hono/node-server';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createApp } from './app.ts';
import { BrokerHost } from './brokerHost.ts';
import { AgentChoiceBook } from './agentChoiceBook.ts';
import { isWildcardHost, storeOf, type Config } from './config.ts';
import { createFaultSwitch } from './fault.ts';
import { historyRoutes } from './http/history.ts';
import { createLogger, type Logger } from './log.ts';
import { createMetrics } from './metrics.ts';
import type { Plugin, PluginFactory } from './plugin.ts';
import { createPushService, type PushOptions, type PushService } from './push/index.ts';
import { buildAllowList, type AllowList } from './security/allowList.ts';
import { cookieNameOf, deviceOf, type SecurityContext } from './security/guard.ts';
import { AGENT_TOKEN_FILE, loadOrCreateToken } from './security/token.ts';
import { dataDirWarning } from './store/fileModes.ts';
import { startDeviceWatch } from './security/deviceWatch.ts';
import { createDeviceGate } from './security/deviceGate.ts';
import { openConfiguredStore } from './store/openStore.ts';
import { openLocalState, openSharedState, type SharedState } from './store/sharedState.ts';
import type { EventStore } from './store/types.ts';
import { Hub } from './ws/hub.ts';
import { connectBus, type Bus } from './bus/natsBus.ts';
import { DEFAULT_HEARTBEAT_MS, DEFAULT_LAPSE_MS, InstanceHome, loadInstanceId } from './bus/instances.ts';
import { createUpgrader } from './ws/upgrade.ts';

/** How long a push waits for another instance to say its screen holds the request:
 *  on one network a reply takes milliseconds; silence then means nobody holds it. */
const HELD_ASK_TIMEOUT_MS = 500;

export type StartOptions = {
  logger?: Logger;
  plugins?: readonly PluginFactory[];
  /** A commit failed (the process should exit and restart from the store). */
  onFatal?: (error: unknown) => void;
  /** The broker's window of recent finished requests (default 10,000); tests shrink it. */
  recentLimit?: number | undefined;
  /** Web Push seams: the delay's clock (tests), the caller's device (the devices feature). */
  push?: PushOptions;
  /** How often this instance checks that its sockets' devices still exist (a revocation
   *  on another instance; security/deviceWatch.ts). Default 2 s. */
  deviceWatchMs?: number;
  /** Several instances (--bus): how often the follower polls the store's head, the
   *  heartbeat and its lapse of agents' homes, and how long a push waits for another
   *  instance's "held" (docs/cluster.md); tests change them. */
  cluster?: { pollMs?: number; heartbeatMs?: number; lapseMs?: number; instanceId?: string; heldAskMs?: number };
};

export type RunningServer = {
  config: Config;
  port: number;
  /** The URL of the ready line (with ?token= when auth is on). */
  url: string;
  /** http://127.0.0.1:PORT style base URL for local clients. */
  baseUrl: string;
  readyLine: string;
  token: string | undefined;
  /** The agent role's token (undefined when auth is off). */
  agentToken: string | undefined;
  epoch: string;
  /** The session cookie's name (token.ts, sessionCookieName): the port's, or with --bus the cluster's. */
  cookieName: string;
  host: BrokerHost;
  store: EventStore;
  /** `sqlite` or `postgres` (--store). */
  storeKind: 'sqlite' | 'postgres';
  /** With --bus: this instance's id (request rows, heartbeats, metrics). */
  instanceId: string | undefined;
  /** With --bus: the agents' homes (heartbeat, orphan cancels). */
  instances: InstanceHome | undefined;
  hub: Hub;
  logger: Logger;
  push: PushService;
  /** Every route of the composed app (method and path), for tests that walk them all. */
  routes(): { method: string; path: string }[];
  stop(): Promise<void>;
};

/** The PEM certificate (chain) and key of --tls-cert/--tls-key. */
function readTlsFiles(files: { certFile: string; keyFile: string }): { cert: Buffer; key: Buffer } {
  const read = (flag: string, file: string) => {
    try {
      return readFileSync(file);
    } catch (error) {
      throw new Error(`${flag} ${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
    }
  };
  return { cert: read('--tls-cert', files.certFile), key: read('--tls-key', files.keyFile) };
}

function bracket(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

async function loadInspector(url: string, logger: Logger) {
  const { createWebSocketInspector } = await import('@statelyai/inspect');
  const inspector = createWebSocketInspector({ url });
  logger.info('Stately inspector attached', { url });
  return inspector;
}

/** What a start opened so far, closed newest first when a later step fails. */
class StartUndo {
  private readonly steps: Array<{ what: string; close: () => unknown }> = [];
  constructor(private readonly logger: Logger) {}

  push(what: string, close: () => unknown): void {
    this.steps.push({ what, close });
  }

  /** `step`'s value; when it throws, everything opened before it is closed first. */
  async guard<T>(step: () => T | Promise<T>): Promise<T> {
    try {
      return await step();
    } catch (error) {
      for (const { what, close } of this.steps.splice(0).reverse()) {
        try {
          await close();
        } catch (closeError) {
          this.logger.warn(`after a failed start: closing ${what} failed`, { error: String(closeError) });
        }
      }
      throw error;
    }
  }
}

export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  const logger = options.logger ?? createLogger({ debug: config.debug });
  let token: string | undefined;
  let agentToken: string | undefined;
  if (config.auth) {
    const loaded = loadOrCreateToken(config.dataDir, config.envToken);
    token = loaded.token;
    logger.addSecret(token);
    if (loaded.warning) logger.warn(loaded.warning);
    const agent = loadOrCreateToken(config.dataDir, config.envAgentToken, AGENT_TOKEN_FILE);
    agentToken = agent.token;
    logger.addSecret(agentToken);
    if (agent.warning) logger.warn(agent.warning);
    if (agentToken === token) throw new Error(`${AGENT_TOKEN_FILE} holds the owner token: delete it to generate a new agent token`);
  }
  const location = storeOf(config);
  if (location.kind === 'postgres') {
    // The URL may carry a password: never in a log line.
    const password = new URL(location.url).password;
    if (password) logger.addSecret(decodeURIComponent(password));
  }
  const instanceId = config.bus ? (options.cluster?.instanceId ?? loadInstanceId(config.dataDir)) : undefined;
  let bus: Bus | undefined;
  if (config.bus) {
    try {
      bus = await connectBus(config.bus, { name: `gatehouse ${instanceId}` });
    } catch (error) {
      throw new Error(`cannot connect to the bus at --bus ${config.bus}: ${(error as Error).message}`);
    }
  }
  let opened: Awaited<ReturnType<typeof openConfiguredStore>>;
  try {
    opened = await openConfiguredStore(location, config.dataDir, { bus: bus !== undefined });
  } catch (error) {
    await bus?.close().catch(() => {});
    throw error;
  }
  const store = opened.store;
  const looseDir = dataDirWarning(config.dataDir);
  if (looseDir) logger.warn(looseDir);
  // Devices, pairing codes, push subscriptions, VAPID keys, rules: in the store's SQLite
  // file, or in the shared PostgreSQL database for every instance (contract-2 §6).
  let shared: SharedState;
  try {
    shared =
      location.kind === 'postgres'
        ? await openSharedState({ url: location.url })
        : openLocalState({ dataDir: config.dataDir, file: opened.localFile, database: opened.localDatabase });
  } catch (error) {
    await store.close();
    opened.closeLocal();
    await bus?.close().catch(() => {});
    throw error;
  }
  // From here on, a start that fails (a port in use, an unreadable TLS file, a plugin
  // that throws) closes what it opened, newest first, before it throws: a `serve`
  // wrapper or a test process would otherwise keep the store (with PostgreSQL, a pool
  // and the writer lease), the bus connection, the host's timers and the plugins' files.
  const opens = new StartUndo(logger);
  opens.push('the local database', () => opened.closeLocal());
  opens.push('the bus', () => bus?.close());
  opens.push('the store', () => store.close());
  opens.push('the shared state', () => shared.close());
  const devices = shared.devices;
  const metrics = createMetrics({ defaultMetrics: true, ...(instanceId !== undefined ? { instance: instanceId } : {}) });
  const inspector = config.inspect ? await opens.guard(() => loadInspector(config.inspect as string, logger)) : undefined;
  if (inspector) opens.push('the inspector', () => inspector.stop());
  const fatal =
    options.onFatal ??
    ((error: unknown) => {
      logger.error('exiting after a fatal error', { error: String(error) });
      process.exit(1);
    });
  const host = await opens.guard(() =>
    BrokerHost.open({
      store,
      logger,
      metrics,
      fault: createFaultSwitch(config.fault),
      onFatal: fatal,
      limits: config.limits,
      // Several instances: each follows the log the others append to; agents' homes decide
      // which orphans to cancel (only a dead instance's), not the start of any one.
      ...(bus ? { follow: { bus, pollMs: options.cluster?.pollMs ?? 1_000, ...(instanceId !== undefined ? { instanceId } : {}) }, cancelOrphans: false } : {}),
      ...(options.recentLimit !== undefined ? { recentLimit: options.recentLimit } : {}),
      ...(inspector ? { inspect: inspector.inspect } : {}),
    }),
  );
  opens.push('the broker host', () => host.stop());
  const instances =
    bus && opened.postgres && instanceId !== undefined
      ? new InstanceHome({
          id: instanceId,
          store: opened.postgres,
          host,
          logger,
          heartbeatMs: options.cluster?.heartbeatMs ?? DEFAULT_HEARTBEAT_MS,
          lapseMs: options.cluster?.lapseMs ?? DEFAULT_LAPSE_MS,
        })
      : undefined;
  if (instances) {
    await opens.guard(() => instances.start());
    opens.push('the instance home (heartbeat)', () => instances.stop());
  }
  const push = createPushService(
    {
      config,
      host,
      store: shared.push,
      vapid: shared.vapid,
      logger,
      // A claim this broker does not hold unresolved may be another instance's live request.
      isFinished: async (requestId) => (await store.getRequest(requestId))?.status !== 'pending',
      // A screen on another instance may hold it (docs/cluster.md, "Push and the screens of other instances").
      ...(bus
        ? { heldElsewhere: (requestId: string) => bus.askHeld({ epoch: host.epoch, requestId }, options.cluster?.heldAskMs ?? HELD_ASK_TIMEOUT_MS) }
        : {}),
    },
    { ...options.push, deviceOf: options.push?.deviceOf ?? ((c) => deviceOf(c)?.id) },
  );
  // A device's push subscriptions end with it, however it ends (revoked, or evicted
  // beyond the device limit).
  devices.onEnded((deviceId) => {
    push
      .removeForDevice(deviceId)
      .catch((error: unknown) => logger.error('push: removing a device’s subscriptions failed', { deviceId, error: String(error) }));
  });

  // Read before anything listens: a missing or unreadable file stops the start, naming it.
  const tls = config.tls ? await opens.guard(() => readTlsFiles(config.tls as NonNullable<Config['tls']>)) : undefined;
  const scheme = tls ? 'https' : 'http';
  let port = 0;
  let allowList: AllowList = buildAllowList({
    bindHost: config.host,
    port: config.port,
    extraOrigins: config.allowedOrigins,
    extraHosts: config.allowedHosts,
    scheme,
  });
  let stopping = false;
  const baseUrl = () => `${scheme}://${isWildcardHost(config.host) ? '127.0.0.1' : bracket(config.host)}:${port}`;

  // The agent's own choice of each human decision (agentChoiceBook.ts), shared by every edge that decides.
  const agentChoices = new AgentChoiceBook();
  const plugins: Plugin[] = [];
  for (const factory of options.plugins ?? []) {
    const plugin = await opens.guard(() =>
      factory({ config, host, store, logger, metrics, baseUrl, token, agentChoices, ...(shared.rules ? { rules: shared.rules } : {}) }),
    );
    plugins.push(plugin);
    opens.push(`plugin ${plugin.name}`, () => plugin.stop?.());
  }
  // The follow-ups of every decision run in the host, whatever its transport (server/decisions.ts).
  for (const plugin of plugins) if (plugin.onDecisionAccepted) host.onDecided(plugin.onDecisionAccepted);
  host.setRememberGate(plugins.find((p) => p.rememberGate)?.rememberGate);

  const hub = new Hub({
    host,
    store,
    logger,
    metrics,
    maxBufferedBytes: config.maxBufferedBytes,
    pingIntervalMs: config.pingIntervalMs,
    rateLimit: config.rateLimit,
    maxFrameBytes: config.maxFrameBytes,
    agentChoices,
    // Several instances: a device ended on another one may still hold a socket here for a
    // moment; its decisions are checked against the store first (docs/cluster.md).
    ...(shared.kind === 'shared' ? { deviceGate: createDeviceGate(devices) } : {}),
  });
  opens.push('the hub', () => hub.dispose());
  const security: SecurityContext = {
    auth: config.auth,
    token,
    agentToken,
    devices,
    port: () => port,
    // Several instances of one Gatehouse share one cookie name, whatever their ports.
    ...(bus ? { cluster: host.epoch } : {}),
    allowList: () => allowList,
  };
  const upgrader = createUpgrader({ maxPayload: config.maxFrameBytes });
  const app = createApp(
    {
      config,
      store,
      storeInfo: { kind: opened.kind, ping: opened.ping },
      ...(bus && instanceId !== undefined ? { busInfo: { kind: 'nats' as const, instance: instanceId, isConnected: () => bus.isConnected() } } : {}),
      host,
      security,
      logger,
      metrics,
      hub,
      upgrader,
      isStopping: () => stopping,
      agentChoices,
    },
    {
      extraRoutes: [
        push.route,
        // History pages the store's requests table, SQLite's or PostgreSQL's.
        { path: '/api/history', routes: historyRoutes({ finishedBefore: shared.finishedBefore, store, agentChoices }) },
        ...plugins.flatMap((p) => p.routes ?? []),
      ],
    },
  );

  // With --tls-cert/--tls-key the same app is served over HTTPS, and the WebSocket upgrade
  // over it is WSS (docs/operations.md, "TLS").
  const server = (
    tls ? createAdaptorServer({ fetch: app.fetch, createServer: createHttpsServer, serverOptions: tls }) : createAdaptorServer({ fetch: app.fetch })
  ) as Server;
  upgrader.inject(server);
  // Long-polls last up to 60 s: keep Node's own timeouts above that.
  server.requestTimeout = 0;
  server.headersTimeout = 30_000;
  server.keepAliveTimeout = 5_000;
  await opens.guard(
    () =>
      new Promise<void>((resolve, reject) => {
        const onError = (error: NodeJS.ErrnoException) => {
          reject(
            error.code === 'EADDRINUSE'
              ? new Error(`port ${config.port} on ${config.host} is in use: pick another with --port (0 picks a free one)`)
              : error.code === 'EADDRNOTAVAIL'
                ? new Error(`cannot bind to ${config.host}: no such address on this machine`)
                : error,
          );
        };
        server.once('error', onError);
        server.listen(config.port, config.host, () => {
          server.off('error', onError);
          resolve();
        });
      }),
  );
  opens.push('the HTTP server', () => new Promise<void>((resolve) => server.close(() => resolve())));
  server.on('error', (error) => logger.error('server error', { error: String(error) }));
  port = (server.address() as AddressInfo).port;
  allowList = buildAllowList({ bindHost: config.host, port, extraOrigins: config.allowedOrigins, extraHosts: config.allowedHosts, scheme });

  metrics.bindSources({
    connections: () => hub.size,
    requestsByStatus: () => (store.isOpen() ? store.countByStatus() : { pending: 0, resolved: 0, timedOut: 0, cancelled: 0 }),
    queue: () => (host.isStopped ? { pending: 0, processing: 0 } : host.queueStatus()),
    head: () => host.head(),
  });

  const prune = async () => {
    const now = Date.now();
    try {
      const result = await store.prune(now, config.history);
      if (result.events > 0) logger.debug('store', 'pruned', result);
      if (result.auditRows > 0) logger.debug('store', 'audit pruned', { rows: result.auditRows });
    } catch (error) {
      logger.error('prune failed', { error: String(error) });
    }
    for (const plugin of plugins) {
      try {
        plugin.prune?.(now, config.history);
      } catch (error) {
        logger.error(`plugin ${plugin.name} prune failed`, { error: String(error) });
      }
    }
  };
  await prune();
  const pruneTimer = setInterval(() => void prune(), config.history.pruneIntervalMs);
  pruneTimer.unref();

  const url = `${scheme}://${bracket(allowList.publicHost)}:${port}/${token ? `?token=${encodeURIComponent(token)}` : ''}`;
  const readyLine = `Gatehouse listening on ${url}`;
  for (const plugin of plugins) await opens.guard(async () => plugin.start?.());
  push.start();
  // Another instance's revocations reach this one's sockets (only a shared store has them).
  const deviceWatch =
    shared.kind === 'shared'
      ? startDeviceWatch({ devices, sockets: hub, logger, ...(options.deviceWatchMs !== undefined ? { intervalMs: options.deviceWatchMs } : {}) })
      : undefined;
  // With a bus, a device this instance ends (revoked, or evicted beyond the limit) is
  // announced, and every instance closes its sockets on the notice instead of at the next
  // poll (docs/cluster.md, "Revocation"); this instance's own close them at once (app.ts).
  const offDeviceEnded = devices.onEnded((deviceId) => {
    if (!bus) return;
    try {
      bus.announceDeviceEnded({ epoch: host.epoch, deviceId });
    } catch (error) {
      logger.warn('bus: announcing an ended device failed (the poll covers it)', { error: String(error) });
    }
  });
  const offDeviceNotices = deviceWatch && bus?.subscribeDeviceEnded(host.epoch, (deviceId) => void deviceWatch.ended(deviceId));
  // Another instance about to push asks whether a screen here holds the request.
  const offHeldQueries = bus?.answerHeld(host.epoch, (requestId) => host.isHeld(requestId) === true);

  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      stopping = true;
      logger.debug('server', 'stopping');
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // The broker drains first (no new requests; decisions, cancels and appends still
      // count) and open long-polls and in-process agents' waits are answered with the
      // request as it stands; then the sockets close, so no decision arrives any more.
      // Only then do the plugins stop: while anything could still be created or decided,
      // their follow-ups (the rule engine on each new request, the remember gate of a
      // decision, the chat's session rows) stay alive. Their last writes (an aborted
      // turn's messages) still commit, and reach the screens on their resume.
      host.flush();
      await Promise.race([host.drain(), new Promise((r) => setTimeout(r, 1_000))]);
      hub.closeAll(1001, 'server stopping');
      for (const plugin of plugins) {
        try {
          await plugin.stop?.();
        } catch (error) {
          logger.error(`plugin ${plugin.name} stop failed`, { error: String(error) });
        }
      }
      push.stop();
      offHeldQueries?.();
      offDeviceNotices?.();
      offDeviceEnded();
      deviceWatch?.stop();
      await instances?.stop();
      await host.stop();
      await bus?.close().catch(() => {});
      clearInterval(pruneTimer);
      inspector?.stop();
      // Let handlers that were answered by the last commit write their responses.
      await new Promise((r) => setImmediate(r));
      await store.close();
      await shared.close();
      opened.closeLocal();
      server.closeIdleConnections();
      const forced = setTimeout(() => {
        hub.terminateAll();
        server.closeAllConnections();
      }, 1_500);
      await Promise.race([closed, new Promise((r) => setTimeout(r, 2_500))]);
      clearTimeout(forced);
      hub.dispose();
      logger.debug('server', 'stopped');
    })());

  const routes = () => app.routes.filter((r) => r.method !== 'ALL').map((r) => ({ method: r.method, path: r.path }));
  return {
    config,
    port,
    url,
    baseUrl: baseUrl(),
    readyLine,
    token,
    agentToken,
    epoch: host.epoch,
    cookieName: cookieNameOf(security),
    host,
    store,
    storeKind: opened.kind,
    instanceId,
    instances,
    hub,
    logger,
    push,
    routes,
    stop,
  };
}
