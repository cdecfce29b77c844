/**
 * `GET /api/devices` and `DELETE /api/devices/ID` (contract-2 §1, docs/operations.md
 * "Devices"): the owner (its token or any device) lists the browsers that hold a
 * session and ends one. Ending one takes effect at once: the next call with its cookie
 * gets 401 (the guard finds no device), and its open sockets are closed with 1008 here,
 * since a socket authenticated at its upgrade is never asked again. The list never
 * carries a secret or its hash: the store does not return them.
 */
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { deleteCookie, setCookie } from 'hono/cookie';
import { type DeviceList, type DeviceView, ERROR_CODES, type RevokedAnswer } from '../../protocol/index.ts';
import { errorResponse } from '../http/errors.ts';
import type { Logger } from '../log.ts';
import type { DeviceStore } from '../store/deviceStore.ts';
import { deviceOf } from './guard.ts';

/** The longest a browser keeps a cookie (Chrome caps Max-Age at 400 days); a device
 *  lasts until it is ended, the server decides. */
export const SESSION_COOKIE_MAX_AGE_S = 400 * 24 * 3600;

/** Hands a new device's secret to its browser: HttpOnly (no script reads it), SameSite=Strict,
 *  named by `cookieNameOf` (the port, or the cluster's epoch: token.ts, sessionCookieName). */
export function setSessionCookie(c: Context, name: string, secret: string): void {
  // Over TLS (--tls-cert) the cookie is also Secure: it never crosses plain HTTP.
  const secure = new URL(c.req.url).protocol === 'https:';
  setCookie(c, name, secret, {
    httpOnly: true,
    sameSite: 'Strict',
    path: '/',
    maxAge: SESSION_COOKIE_MAX_AGE_S,
    ...(secure ? { secure } : {}),
  });
}

/** What the WebSocket hub offers for devices (server/ws/hub.ts). */
export type DeviceSockets = {
  /** The clientIds of the device's open sockets. */
  clientsOf(deviceId: string): string[];
};

export type { DeviceView };

/** Mounted after the body limit: a device's call with a body is checked again once the
 *  body is in. The guard checked the cookie when the headers arrived; a body trickled in
 *  slowly must not carry a decision (or a rule) past the device's end. Routes read the
 *  body from Hono's cache, so it is read once. */
export function recheckDeviceAfterBody(devices: Pick<DeviceStore, 'get'>): MiddlewareHandler {
  return async (c, next) => {
    const device = deviceOf(c);
    if (!device || c.req.raw.body === null) return next();
    await c.req.arrayBuffer();
    if (!(await devices.get(device.id))) {
      c.header('WWW-Authenticate', 'Bearer realm="gatehouse"');
      return errorResponse(c, 401, ERROR_CODES.unauthorized, 'this device was ended while its call was on its way: open the printed URL again');
    }
    return next();
  };
}

export function deviceRoutes(deps: { devices: DeviceStore; sockets?: DeviceSockets | undefined; cookieName(): string; logger: Logger }): Hono {
  const app = new Hono();

  app.get('/', async (c) => {
    const me = deviceOf(c)?.id;
    const devices: DeviceView[] = (await deps.devices.list()).map((d) => ({
      id: d.id,
      name: d.name,
      createdAt: d.createdAt,
      lastSeenAt: d.lastSeenAt,
      current: d.id === me,
      clients: deps.sockets?.clientsOf(d.id) ?? [],
    }));
    return c.json<DeviceList>({ devices });
  });

  app.delete('/:id', async (c) => {
    const id = c.req.param('id');
    // Its sockets close as it ends (the devices' `onEnded`, app.ts): counted before.
    const sockets = deps.sockets?.clientsOf(id).length ?? 0;
    if (!(await deps.devices.revoke(id)))
      return errorResponse(c, 404, ERROR_CODES.notFound, `no device ${JSON.stringify(id.slice(0, 100))}: GET /api/devices lists them`);
    deps.logger.info('device ended', { id, sockets });
    // The caller ended itself: its browser drops the cookie that opens nothing any more.
    if (deviceOf(c)?.id === id) deleteCookie(c, deps.cookieName(), { path: '/', httpOnly: true, sameSite: 'Strict' });
    return c.json<RevokedAnswer>({ id, revoked: true });
  });

  return app;
}
