/**
 * Web Push, assembled for the composition root (server/server.ts): the VAPID keys (the
 * data directory's file, or the shared store's row), the subscriptions and claims (the
 * main SQLite database, or the shared store: contract-2 §6), the routes under `/api/push`
 * and the notifier that decides when to push. Two seams for the devices feature:
 * `deviceOf(c)` names the caller's device at subscription (undefined for the owner
 * token), and `store.removeForDevice(id)` ends a revoked device's subscriptions.
 */
import type { Context } from 'hono';
import type { Clock } from '../brokerHost.ts';
import type { ExtraRoute } from '../app.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import { PushNotifier, type PushActivity, type PushHost, type PushNotifierOptions } from './notifier.ts';
import { pushOriginMatcher } from './origins.ts';
import type { IsFinished } from './notifier.ts';
import type { PushStore } from './pushStore.ts';
import { pushRoutes } from './routes.ts';
import type { LoadedVapidKeys } from './vapid.ts';

export type PushOptions = {
  /** Drives the push delay (a SimulatedClock in tests). */
  clock?: Clock;
  now?: () => number;
  /** The caller's device id (contract: a subscription belongs to its device). */
  deviceOf?: (c: Context) => string | undefined;
  onActivity?: (activity: PushActivity) => void;
  send?: PushNotifierOptions['send'];
};

export type PushService = {
  publicKey: string;
  store: PushStore;
  notifier: PushNotifier;
  route: ExtraRoute;
  /** End every subscription of a revoked device. */
  removeForDevice(deviceId: string): Promise<number>;
  start(): void;
  stop(): void;
};

export function createPushService(
  deps: {
    config: Config;
    host: PushHost;
    store: PushStore;
    vapid: LoadedVapidKeys;
    isFinished?: IsFinished;
    heldElsewhere?: PushNotifierOptions['heldElsewhere'];
    logger: Logger;
  },
  options: PushOptions = {},
): PushService {
  const { config, logger, store } = deps;
  const loaded = deps.vapid;
  if (loaded.warning) logger.warn(loaded.warning);
  logger.addSecret(loaded.keys.privateKey);
  const isAllowed = pushOriginMatcher(config.push.allowedOrigins);
  const notifier = new PushNotifier({
    host: deps.host,
    store,
    logger,
    vapid: loaded.keys,
    subject: config.push.subject,
    delayMs: config.push.delayMs,
    isAllowed,
    ...(deps.isFinished ? { isFinished: deps.isFinished } : {}),
    ...(deps.heldElsewhere ? { heldElsewhere: deps.heldElsewhere } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.now ? { now: options.now } : {}),
    ...(options.send ? { send: options.send } : {}),
    ...(options.onActivity ? { onActivity: options.onActivity } : {}),
  });
  const routes = pushRoutes({
    store,
    publicKey: loaded.keys.publicKey,
    isAllowed,
    deviceOf: options.deviceOf ?? (() => undefined),
    logger,
    ...(options.now ? { now: options.now } : {}),
  });
  return {
    publicKey: loaded.keys.publicKey,
    store,
    notifier,
    route: { path: '/api/push', routes },
    removeForDevice: (deviceId) => store.removeForDevice(deviceId),
    start: () => notifier.start(),
    stop: () => notifier.stop(),
  };
}
