/**
 * The gate in front of every route and upgrade (protocol-v1.md §2), in this order:
 * Host allow-list (403), Origin allow-list when an Origin is present (403), then a
 * credential for `/api/*`, `/metrics`, `/readyz` and every WebSocket upgrade (401), then
 * the role's rights (403: the agent token opens only the calls of contract-2 §1).
 * `/healthz` and the agent hello are open. @hono/node-ws runs this same app for an upgrade request, so a
 * refusal here refuses the upgrade before any socket exists.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { errorResponse } from '../http/errors.ts';
import { isHostAllowed, isOriginAllowed, type AllowList } from './allowList.ts';
import { HELLO_PATH } from './helloProof.ts';
import { sessionCookieName, sessionCookieValue, tokensEqual } from './token.ts';

export type SecurityContext = {
  /** false only with --no-auth on loopback. */
  auth: boolean;
  /** The owner token. */
  token?: string;
  /** The agent token (contract-2 §1): creates, reads and cancels requests, nothing else. */
  agentToken?: string;
  /** The real port, once listening. */
  port(): number;
  allowList(): AllowList;
};

export function isUpgrade(c: Context): boolean {
  return c.req.header('upgrade')?.toLowerCase() === 'websocket';
}

export function needsToken(path: string, upgrade: boolean): boolean {
  if (path === HELLO_PATH && !upgrade) return false;
  return upgrade || path === '/api' || path.startsWith('/api/') || path === '/ws' || path === '/metrics' || path === '/readyz';
}

/** Who is calling (contract-2 §1): the owner (the owner token or its session cookie), or
 *  an agent (the agent token), or nobody. */
export type Role = 'owner' | 'agent';

/** Bearer header, `?token=`, or the session cookie; any one that matches will do. */
export function roleOf(c: Context, sec: SecurityContext): Role | undefined {
  if (!sec.auth) return 'owner';
  const presented: string[] = [];
  const header = c.req.header('authorization');
  if (header) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (match?.[1]) presented.push(match[1]);
  }
  const query = c.req.query('token');
  if (query !== undefined) presented.push(query);
  for (const value of presented) {
    if (sec.token && tokensEqual(value, sec.token)) return 'owner';
    if (sec.agentToken && tokensEqual(value, sec.agentToken)) return 'agent';
  }
  const cookie = getCookie(c, sessionCookieName(sec.port()));
  if (sec.token && cookie !== undefined && tokensEqual(cookie, sessionCookieValue(sec.token))) return 'owner';
  return undefined;
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
    if (path === '/healthz') return next();
    const list = sec.allowList();
    const upgrade = isUpgrade(c);
    const refuse = (status: 401 | 403, code: 'unauthorized' | 'forbidden', message: string) => {
      deps.metrics?.httpRefusals.inc({ status: String(status) });
      deps.logger.debug(upgrade ? 'websocket' : 'http', 'refused', { status, path, why: message });
      if (status === 401) c.header('WWW-Authenticate', 'Bearer realm="gatehouse"');
      return errorResponse(c, status, code, message);
    };
    if (!isHostAllowed(list, c.req.header('host'))) {
      return refuse(403, 'forbidden', 'Host not allowed: use the address the server printed, or start it with --allowed-hosts');
    }
    if (!isOriginAllowed(list, c.req.header('origin'))) {
      return refuse(403, 'forbidden', 'Origin not allowed: start the server with --allowed-origins to allow it');
    }
    if (!needsToken(path, upgrade)) return next();
    const role = roleOf(c, sec);
    if (!role) {
      return refuse(401, 'unauthorized', 'missing or wrong token: send Authorization: Bearer TOKEN, ?token=TOKEN, or open the printed URL');
    }
    if (role === 'agent' && !agentMayCall(c.req.method, path, upgrade)) {
      return refuse(403, 'forbidden', `the agent token may not call ${c.req.method} ${path}: only the owner (its token or a device) may`);
    }
    return next();
  };
}
