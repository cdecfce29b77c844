/**
 * Pairing links (contract-2 §4, docs/operations.md "Pairing a phone"): the owner (its
 * token or a device) asks `POST /api/pairings` for a one-time link
 * `http://HOST:PORT/pair/CODE`, valid for 10 minutes; the first browser that opens it
 * becomes a new device, exactly as with `?token=`, without the owner token ever reaching
 * that browser. A used, expired or unknown code answers 410. The code is a 256-bit random
 * value stored only as its hash (server/store/deviceStore.ts), and the redirect that
 * follows is `no-store` like the `?token=` one.
 */
import { Hono, type Context } from 'hono';
import type { PairingCreated } from '../../protocol/index.ts';
import type { Logger } from '../log.ts';
import { deviceName, type DeviceStore } from '../store/deviceStore.ts';
import { PAGE_HEADERS } from '../http/static.ts';
import type { AllowList } from './allowList.ts';
import { setSessionCookie } from './devices.ts';
import { cookieNameOf, deviceOfCookie, type SecurityContext } from './guard.ts';

export const PAIR_PATH = '/pair';

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])(:\d+)?$/i;

/** The link's host: the one the caller used (the guard checked it is one of ours),
 *  unless that is a loopback name while the server also answers on the LAN: a phone
 *  cannot open `localhost`, so the link names the address of the ready line. */
export function pairingHost(requestHost: string, list: AllowList, port: number): string {
  if (LOOPBACK.test(requestHost) && !LOOPBACK.test(list.publicHost)) return `${list.publicHost}:${port}`;
  return requestHost.toLowerCase();
}

/** `POST /api/pairings` (mounted there, behind the guard: owner token or a device). */
export function pairingApiRoutes(deps: { devices: DeviceStore; security: SecurityContext; logger: Logger }): Hono {
  const app = new Hono();
  app.post('/', async (c) => {
    const { code, expiresAt } = await deps.devices.createPairing();
    const scheme = new URL(c.req.url).protocol === 'https:' ? 'https' : 'http';
    const host = pairingHost(c.req.header('host') ?? '', deps.security.allowList(), deps.security.port());
    deps.logger.info('pairing link made', { expiresAt: new Date(expiresAt).toISOString() });
    c.header('cache-control', 'no-store');
    return c.json<PairingCreated>({ url: `${scheme}://${host}${PAIR_PATH}/${code}`, code, expiresAt }, 201);
  });
  return app;
}

/** `GET /pair/CODE` (a page: no credential; the code is the credential, once). */
export function pairingPageRoutes(deps: { devices: DeviceStore; security: SecurityContext; logger: Logger }): Hono {
  const app = new Hono();
  const gone = (c: Context) =>
    c.text('This pairing link was already used or has expired: make a new one (gatehouse pair, or Devices in the app).\n', 410, {
      ...PAGE_HEADERS,
      'cache-control': 'no-store',
    });
  app.on(['GET', 'HEAD'], '/:code', async (c) => {
    // A HEAD (link checkers) must not spend the code; Hono would run a GET route for it.
    if (c.req.method === 'HEAD') return c.body(null, 405, { ...PAGE_HEADERS, allow: 'GET', 'cache-control': 'no-store' });
    const made = await deps.devices.redeemPairing(c.req.param('code'), deviceName(c.req.header('user-agent')));
    if (!made) return gone(c);
    // This browser's earlier device (if any) is replaced: its cookie is overwritten, so
    // nothing could use that device again.
    const earlier = await deviceOfCookie(c, deps.security);
    // Ended, its sockets close with it (the devices' `onEnded`, app.ts).
    if (earlier) await deps.devices.revoke(earlier.id);
    setSessionCookie(c, cookieNameOf(deps.security), made.secret);
    deps.logger.info('new device', { id: made.device.id, name: made.device.name, via: 'pairing' });
    c.header('cache-control', 'no-store');
    return c.redirect('/', 302);
  });
  return app;
}
