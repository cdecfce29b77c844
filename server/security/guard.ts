/**
 * The gate in front of every route and upgrade (protocol-v1.md §2, docs/security.md), in
 * this order: a CORS preflight (403: no cross-origin call is ever invited), Host
 * allow-list (403), Origin allow-list when an Origin is present (403), then a credential
 * for `/api/*`, `/metrics`, `/readyz` and every WebSocket upgrade (401), then the cookie
 * rule (403: a call that only a device's cookie authenticates must show it comes from
 * the app), then the role's rights (403: the agent token opens only the calls of
 * contract-2 §1). `/healthz` and the agent hello are open. @hono/node-ws runs this same
 * app for an upgrade request, so a refusal here refuses the upgrade before any socket
 * exists. The device a cookie belongs to is left on the context (`deviceOf`).
 */
import type { Context, MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { errorResponse } from '../http/errors.ts';
import { headerOf } from '../http/nodeRequest.ts';
import { isHostAllowed, isOriginAllowed, type AllowList } from './allowList.ts';
import { HELLO_PATH } from './helloProof.ts';
import type { Device, DeviceStore } from '../store/deviceStore.ts';
import { sessionCookieName, tokensEqual } from './token.ts';

declare module 'hono' {
  interface ContextVariableMap {
    /** The device whose session cookie authenticated this call (set by the guard). */
    device: Device | undefined;
  }
}

export type SecurityContext = {
  /** false only with --no-auth on loopback. */
  auth: boolean;
  /** The owner token. */
  token?: string | undefined;
  /** The agent token (contract-2 §1): creates, reads and cancels requests, nothing else. */
  agentToken?: string | undefined;
  /** Browsers' sessions (contract-2 §1). createApp supplies an in-memory one when absent. */
  devices?: DeviceStore;
  /** The real port, once listening. */
  port(): number;
  /** With several instances (--bus): the shared store's epoch, which names the session
   *  cookie instead of the port (sessionCookieName). */
  cluster?: string;
  allowList(): AllowList;
};

/** This server's session cookie name (token.ts, sessionCookieName). */
export function cookieNameOf(sec: SecurityContext): string {
  return sessionCookieName({ port: sec.port(), cluster: sec.cluster });
}

export function isUpgrade(c: Context): boolean {
  return headerOf(c, 'upgrade')?.toLowerCase() === 'websocket';
}

export function needsToken(path: string, upgrade: boolean): boolean {
  if (path === HELLO_PATH && !upgrade) return false;
  return upgrade || path === '/api' || path.startsWith('/api/') || path === '/ws' || path === '/metrics' || path === '/readyz';
}

/** Who is calling (contract-2 §1): the owner (the owner token or a device's session
 *  cookie), or an agent (the agent token), or nobody. */
export type Role = 'owner' | 'agent';

/** The role and what proved it: a device is the owner's, but only through its cookie, so
 *  the cookie rule applies to it. */
export type Caller = { role: 'owner'; by: 'no-auth' | 'token' } | { role: 'owner'; by: 'device'; device: Device } | { role: 'agent'; by: 'token' };

/** Bearer header or `?token=` (a token that matches wins), else the session cookie. */
export async function callerOf(c: Context, sec: SecurityContext): Promise<Caller | undefined> {
  if (!sec.auth) return { role: 'owner', by: 'no-auth' };
  const presented: string[] = [];
  const header = headerOf(c, 'authorization');
  if (header) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (match?.[1]) presented.push(match[1]);
  }
  const query = c.req.query('token');
  if (query !== undefined) presented.push(query);
  for (const value of presented) {
    if (sec.token && tokensEqual(value, sec.token)) return { role: 'owner', by: 'token' };
    if (sec.agentToken && tokensEqual(value, sec.agentToken)) return { role: 'agent', by: 'token' };
  }
  const device = await deviceOfCookie(c, sec);
  return device ? { role: 'owner', by: 'device', device } : undefined;
}

export async function roleOf(c: Context, sec: SecurityContext): Promise<Role | undefined> {
  return (await callerOf(c, sec))?.role;
}

/** The device whose session this request's cookie carries, if any is still valid. */
export async function deviceOfCookie(c: Context, sec: SecurityContext): Promise<Device | undefined> {
  const cookie = getCookie(c, cookieNameOf(sec));
  return cookie === undefined ? undefined : sec.devices?.lookup(cookie);
}

/** The device the guard authenticated this call by (undefined for a token). */
export function deviceOf(c: Context): Device | undefined {
  return c.get('device');
}

/** The cookie rule (contract-2 §1): a call authenticated only by the cookie must show it
 *  comes from the app's own pages. An Origin that reached this point is an allowed one;
 *  a page on another port of this host is `same-site`, not `same-origin`; and no other
 *  page can add `X-Gatehouse-Client` without a preflight, which is refused. */
export function cookieCallAllowed(c: Context): boolean {
  return headerOf(c, 'origin') !== undefined || headerOf(c, 'sec-fetch-site') === 'same-origin' || headerOf(c, 'x-gatehouse-client') === 'web';
}

/** A CORS preflight: the browser asks before a cross-origin call with custom headers or methods. */
export function isPreflight(c: Context): boolean {
  return (
    c.req.method === 'OPTIONS' && (headerOf(c, 'access-control-request-method') !== undefined || headerOf(c, 'access-control-request-headers') !== undefined)
  );
}

/** What the agent token may do (contract-2 §1): create a request (also with `?wait=`),
 *  read one by id, cancel one, and the agent endpoints. Nothing else: no decision, no
 *  list, no rules, audit, sessions, devices, push, and no WebSocket. */
export function agentMayCall(method: string, path: string, upgrade: boolean): boolean {
  if (upgrade) return false;
  if (path.startsWith('/api/agent/') || path === '/api/hooks/claude') return method === 'POST';
  if (path === '/api/permission-requests' || path === '/api/permission-requests/') return method === 'POST';
  const one = /^\/api\/permission-requests\/[^/]+$/.test(path);
  return one && (method === 'GET' || method === 'DELETE');
}

export function securityGuard(sec: SecurityContext, deps: { logger: Logger; metrics?: Metrics }): MiddlewareHandler {
  return async (c, next) => {
    const path = c.req.path;
    const upgrade = isUpgrade(c);
    const refuse = (status: 401 | 403, code: 'unauthorized' | 'forbidden', message: string) => {
      deps.metrics?.httpRefusals.inc({ status: String(status) });
      deps.logger.debug(upgrade ? 'websocket' : 'http', 'refused', { status, path, why: message });
      if (status === 401) c.header('WWW-Authenticate', 'Bearer realm="gatehouse"');
      return errorResponse(c, status, code, message);
    };
    // Answered before anything else, and never with Access-Control-Allow-*: the app
    // calls only its own origin, so any preflight is another origin asking in.
    if (isPreflight(c)) return refuse(403, 'forbidden', 'cross-origin calls are not allowed: Gatehouse answers no CORS preflight');
    if (path === '/healthz') return next();
    const list = sec.allowList();
    if (!isHostAllowed(list, headerOf(c, 'host'))) {
      return refuse(403, 'forbidden', 'Host not allowed: use the address the server printed, or start it with --allowed-hosts');
    }
    if (!isOriginAllowed(list, headerOf(c, 'origin'))) {
      return refuse(403, 'forbidden', 'Origin not allowed: start the server with --allowed-origins to allow it');
    }
    if (!needsToken(path, upgrade)) return next();
    const caller = await callerOf(c, sec);
    if (!caller) {
      return refuse(401, 'unauthorized', 'missing or wrong token: send Authorization: Bearer TOKEN, ?token=TOKEN, or open the printed URL');
    }
    if (caller.by === 'device') {
      if (!cookieCallAllowed(c)) {
        return refuse(
          403,
          'forbidden',
          'a call with only the session cookie must carry the header X-Gatehouse-Client: web (or an allowed Origin): other pages cannot',
        );
      }
      // Only a call that passed counts as the device being seen (another page on this
      // host sends the cookie too).
      c.set('device', (await sec.devices?.seen(caller.device)) ?? caller.device);
    }
    if (caller.role === 'agent' && !agentMayCall(c.req.method, path, upgrade)) {
      return refuse(403, 'forbidden', `the agent token may not call ${c.req.method} ${path}: only the owner (its token or a device) may`);
    }
    return next();
  };
}
