/**
 * The Web Push routes (contract: docs/operations.md, "Web Push"), behind the security
 * guard (owner token or a device; the agent token gets 403 there):
 *
 *   GET    /api/push/key            {"publicKey": VAPID public key, base64url}
 *   POST   /api/push/subscriptions  PushSubscription.toJSON(): {endpoint, keys:{p256dh, auth}}
 *   DELETE /api/push/subscriptions  {endpoint}
 *
 * A subscription's endpoint is where the server will POST, so it is checked here, once,
 * before anything is stored: an absolute URL without credentials, at most 2,048
 * characters, whose origin is allowed by `--push-allowed-origins` (else 400 naming the
 * origin). The keys must be what RFC 8291 needs: `p256dh` an uncompressed P-256 point
 * (65 bytes, on the curve), `auth` 16 bytes, both base64url.
 */
import { createECDH } from 'node:crypto';
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { describeIssues, ERROR_CODES, type PushKeyAnswer, type PushSubscribed, type PushUnsubscribed } from '../../protocol/index.ts';
import { errorResponse } from '../http/errors.ts';
import type { Logger } from '../log.ts';
import type { PushStore } from './pushStore.ts';
import { redactEndpoint } from './sender.ts';

export const MAX_ENDPOINT_LENGTH = 2048;
/** More than any household of browsers; bounds each push's fan-out. */
export const MAX_SUBSCRIPTIONS = 100;

const base64url = z.string().regex(/^[A-Za-z0-9_-]+$/, 'expected base64url without padding');

function decodedLength(bytes: number, what: string) {
  return base64url.refine((value) => Buffer.from(value, 'base64url').length === bytes, `${what}: expected ${bytes} bytes, base64url`);
}

function onCurve(value: string): boolean {
  const point = Buffer.from(value, 'base64url');
  if (point.length !== 65 || point[0] !== 0x04) return false;
  try {
    // computeSecret refuses a point that is not on the curve (it needs a key of its own).
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    ecdh.computeSecret(point);
    return true;
  } catch {
    return false;
  }
}

const endpointSchema = z.string().min(1).max(MAX_ENDPOINT_LENGTH);

export const subscriptionSchema = z.object({
  endpoint: endpointSchema,
  expirationTime: z.number().nullable().optional(),
  keys: z.object({
    p256dh: decodedLength(65, 'an uncompressed P-256 public key').refine(onCurve, 'not a point on the P-256 curve'),
    auth: decodedLength(16, 'the authentication secret'),
  }),
});

const unsubscribeSchema = z.object({ endpoint: endpointSchema });

export type PushRoutesDeps = {
  store: PushStore;
  publicKey: string;
  isAllowed(endpoint: URL): boolean;
  /** The caller's device id; `undefined` for the owner token used directly. */
  deviceOf(c: Context): string | undefined;
  logger: Logger;
  now?: () => number;
};

/** The endpoint as a URL the server may POST to, or the reason it may not. */
export function checkEndpoint(raw: string, isAllowed: (url: URL) => boolean): URL | string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'endpoint: not an absolute URL';
  }
  if (url.username || url.password) return 'endpoint: must not carry credentials';
  if (!isAllowed(url)) {
    return `endpoint: the push service ${url.origin} is not allowed; Gatehouse only sends to the origins of --push-allowed-origins (GATEHOUSE_PUSH_ALLOWED_ORIGINS)`;
  }
  return url;
}

async function readJson(c: Context): Promise<{ ok: true; value: unknown } | { ok: false; response: Response }> {
  const text = await c.req.text();
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false, response: errorResponse(c, 400, ERROR_CODES.invalidMessage, 'body: expected a JSON object') };
  }
}

export function pushRoutes(deps: PushRoutesDeps): Hono {
  const routes = new Hono();
  const now = deps.now ?? Date.now;

  routes.get('/key', (c) => c.json<PushKeyAnswer>({ publicKey: deps.publicKey }));

  routes.post('/subscriptions', async (c) => {
    const body = await readJson(c);
    if (!body.ok) return body.response;
    const parsed = subscriptionSchema.safeParse(body.value);
    if (!parsed.success) return errorResponse(c, 400, ERROR_CODES.invalidMessage, describeIssues(parsed.error));
    const checked = checkEndpoint(parsed.data.endpoint, deps.isAllowed);
    if (typeof checked === 'string') return errorResponse(c, 400, ERROR_CODES.invalidMessage, checked);
    const endpoint = parsed.data.endpoint;
    const existing = await deps.store.get(endpoint);
    if (!existing && (await deps.store.count()) >= MAX_SUBSCRIPTIONS) {
      return errorResponse(c, 400, ERROR_CODES.invalidMessage, `too many push subscriptions (${MAX_SUBSCRIPTIONS}): remove one first`);
    }
    const deviceId = deps.deviceOf(c) ?? null;
    await deps.store.upsert({ endpoint, keys: parsed.data.keys }, deviceId, now());
    deps.logger.info('push: subscribed', { endpoint: redactEndpoint(endpoint), deviceId, replaced: existing !== undefined });
    return c.json<PushSubscribed>({ endpoint, deviceId }, existing ? 200 : 201);
  });

  routes.delete('/subscriptions', async (c) => {
    const body = await readJson(c);
    if (!body.ok) return body.response;
    const parsed = unsubscribeSchema.safeParse(body.value);
    if (!parsed.success) return errorResponse(c, 400, ERROR_CODES.invalidMessage, describeIssues(parsed.error));
    if (!(await deps.store.remove(parsed.data.endpoint))) return errorResponse(c, 404, ERROR_CODES.notFound, 'no push subscription with that endpoint');
    deps.logger.info('push: unsubscribed', { endpoint: redactEndpoint(parsed.data.endpoint) });
    return c.json<PushUnsubscribed>({ removed: true });
  });

  return routes;
}
