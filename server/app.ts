/**
 * The Hono app: the security guard in front of everything, then the routes of
 * protocol-v1.md §3-4 and the web UI. Testable in-process with `app.request()`; the
 * WebSocket routes are added only when an upgrader is given (a real HTTP server).
 *
 * More routes (sessions, rules, audit...) mount through `extraRoutes`: each runs after
 * the guard (so `/api/*` needs the token) and before the web UI's catch-all.
 */
import { Hono } from 'hono';
import { ERROR_CODES } from '../protocol/index.ts';
import { CLAUDE_HOOK_PATH, claudeHookRoutes } from './agents/hook/httpHookRoute.ts';
import type { BrokerHost } from './brokerHost.ts';
import type { Config } from './config.ts';
import { limitBody } from './http/bodyLimit.ts';
import { bodyTimeout } from './http/bodyTimeout.ts';
import { errorResponse } from './http/errors.ts';
import { healthRoutes, type BusInfo, type StoreInfo } from './http/health.ts';
import { permissionRoutes } from './http/permissions.ts';
import { staticRoutes } from './http/static.ts';
import type { Logger } from './log.ts';
import type { Metrics } from './metrics.ts';
import { cookieNameOf, securityGuard, type SecurityContext } from './security/guard.ts';
import { HELLO_PATH } from './security/helloProof.ts';
import { deviceRoutes, recheckDeviceAfterBody } from './security/devices.ts';
import { helloRoutes } from './security/hello.ts';
import { PAIR_PATH, pairingApiRoutes, pairingPageRoutes } from './security/pairing.ts';
import { SqliteDeviceStore } from './store/deviceStore.ts';
import type { EventStore } from './store/types.ts';
import type { Hub } from './ws/hub.ts';
import type { AgentChoiceBook } from './agentChoiceBook.ts';
import { mountWebSocketRoutes } from './ws/routes.ts';
import type { Upgrader } from './ws/upgrade.ts';

export type AppDeps = {
  config: Config;
  store: EventStore;
  /** What /readyz says of the store (and checks): absent in tests that build an app alone. */
  storeInfo?: StoreInfo;
  /** With --bus: what /readyz says of the bus. */
  busInfo?: BusInfo;
  host: BrokerHost;
  security: SecurityContext;
  logger: Logger;
  metrics: Metrics;
  /** With an upgrader: the WebSocket hub and routes. */
  hub?: Hub;
  upgrader?: Upgrader;
  /** True once shutdown began: new calls get 503. */
  isStopping?: () => boolean;
  /** The agent's own choice of each human decision; absent: none is ever taken. */
  agentChoices?: AgentChoiceBook;
};

/** A route module: `app.route(path, routes)`, or a function given the app and deps. */
export type ExtraRoute = { path: string; routes: Hono } | ((app: Hono, deps: AppDeps) => void);

export type AppOptions = { extraRoutes?: readonly ExtraRoute[] };

export function createApp(deps: AppDeps, options: AppOptions = {}): Hono {
  const app = new Hono();
  const isStopping = deps.isStopping ?? (() => false);
  // The server passes the devices of its database; an app built without (in-process
  // tests) keeps them in memory, so the page flow and the cookie work the same.
  const security: SecurityContext = deps.security.devices ? deps.security : { ...deps.security, devices: new SqliteDeviceStore({ dataDir: ':memory:' }) };
  const devices = security.devices!;
  // However a device ends (revoked over the API or by a new pairing of its browser,
  // evicted beyond the device limit), its sockets here close at once: an ended device
  // decides nothing more (SPEC.md AUTH-4, AUTH-5). Other instances' sockets: server.ts.
  const hub = deps.hub;
  if (hub) devices.onEnded((deviceId) => hub.closeDevice(deviceId));

  app.use('*', securityGuard(security, { logger: deps.logger, metrics: deps.metrics }));
  app.use('/api/*', async (c, next) => {
    if (isStopping()) return errorResponse(c, 503, ERROR_CODES.unavailable, 'the server is stopping: try again shortly');
    return next();
  });
  app.use('/api/*', bodyTimeout(deps.config.limits.bodyTimeoutMs));
  app.use('/api/*', limitBody(deps.config.maxFrameBytes));
  app.use('/api/*', recheckDeviceAfterBody(devices));

  app.route(
    HELLO_PATH,
    helloRoutes(() => security.agentToken),
  );
  app.route('/api/devices', deviceRoutes({ devices, sockets: deps.hub, cookieName: () => cookieNameOf(security), logger: deps.logger }));
  app.route('/api/pairings', pairingApiRoutes({ devices, security, logger: deps.logger }));
  app.route(
    '/',
    healthRoutes({
      store: deps.store,
      host: deps.host,
      metrics: deps.metrics,
      isStopping,
      ...(deps.storeInfo ? { storeInfo: deps.storeInfo } : {}),
      ...(deps.busInfo ? { busInfo: deps.busInfo } : {}),
    }),
  );
  app.route(
    '/api/permission-requests',
    permissionRoutes({
      host: deps.host,
      store: deps.store,
      metrics: deps.metrics,
      logger: deps.logger,
      requestTimeoutMs: deps.config.requestTimeoutMs,
      maxFrameBytes: deps.config.maxFrameBytes,
      ...(deps.agentChoices ? { agentChoices: deps.agentChoices } : {}),
    }),
  );
  // Claude Code's http hook (agent role): the same request path, no process per tool call.
  app.route(
    CLAUDE_HOOK_PATH,
    claudeHookRoutes({
      host: deps.host,
      store: deps.store,
      metrics: deps.metrics,
      logger: deps.logger,
      maxFrameBytes: deps.config.maxFrameBytes,
      ...(deps.agentChoices ? { agentChoices: deps.agentChoices } : {}),
    }),
  );
  for (const extra of options.extraRoutes ?? []) {
    if (typeof extra === 'function') extra(app, deps);
    else app.route(extra.path, extra.routes);
  }
  if (deps.upgrader && deps.hub) {
    deps.upgrader.bindApp(app);
    mountWebSocketRoutes(app, deps.upgrader.upgradeWebSocket, deps.hub, devices);
  }
  app.all('/api/*', (c) => errorResponse(c, 404, ERROR_CODES.notFound, `no route ${c.req.method} ${c.req.path}`));
  app.route(PAIR_PATH, pairingPageRoutes({ devices, security, logger: deps.logger }));
  app.route('/', staticRoutes({ staticDir: deps.config.staticDir, security, logger: deps.logger }));

  app.notFound((c) =>
    c.req.path.startsWith('/api/') ? errorResponse(c, 404, ERROR_CODES.notFound, `no route ${c.req.method} ${c.req.path}`) : c.text('Not found\n', 404),
  );
  app.onError((error, c) => {
    deps.logger.error('unhandled error', { path: c.req.path, error: String(error?.stack ?? error) });
    return errorResponse(c, 500, ERROR_CODES.internal, 'internal error');
  });
  return app;
}
