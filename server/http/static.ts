/**
 * The web UI: files from `dist/` (built by `npm run build`) with correct content types,
 * and index.html for any other page path (the UI routes in the browser). Opening a page
 * with `?token=OWNER_TOKEN` makes the browser a device (docs/operations.md "Devices"):
 * its own session secret in the cookie (HttpOnly, SameSite=Strict, named with the port),
 * then a redirect to the same path without the token, so it does not stay in the
 * address bar or history. The redirect is `no-store` (a cached one would be followed
 * without asking the server, after the token changed too, and a shared cache could hand
 * its cookie to someone else) and its Location is always a path of this origin. Without
 * a build, a short page says how to make one.
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { Hono, type Context } from 'hono';
import type { Logger } from '../log.ts';
import { deviceName } from '../store/deviceStore.ts';
import { setSessionCookie } from '../security/devices.ts';
import { cookieNameOf, deviceOfCookie, type SecurityContext } from '../security/guard.ts';
import { tokensEqual } from '../security/token.ts';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.txt': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
  '.wasm': 'application/wasm',
};

/** Headers for every page: no framing (an Allow button must not be clickjacked), no
 *  referrer (URLs may have carried a token), no sniffing. */
export const PAGE_HEADERS: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
};

/** Where the `?token=` redirect may send the browser: a path of this origin. The path is
 *  the WHATWG parser's (tabs and newlines gone, backslashes already slashes); anything a
 *  browser could read as another origin (`//host`, `/\host`) or that is not plain
 *  printable ASCII becomes `/`. */
export function safeRedirectPath(pathname: string): string {
  if (!/^\/(?![/\\])[\x21-\x7e]*$/.test(pathname)) return '/';
  return pathname;
}

function notBuilt(): Response {
  return new Response(
    'Gatehouse is running, but the web UI is not built.\n\nRun `npm run build` (or start with `npm start`, which builds when needed), then reload.\nThe WebSocket (/ws) and HTTP API (/api/*) work without it.\n',
    { status: 200, headers: { 'content-type': 'text/plain; charset=utf-8', ...PAGE_HEADERS } },
  );
}

export function staticRoutes(deps: { staticDir: string; security: SecurityContext; logger?: Logger }): Hono {
  const root = resolve(deps.staticDir);
  const app = new Hono();

  const fileResponse = (file: string, c: Context, cacheable: boolean): Response => {
    const stats = statSync(file);
    const type = TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
    const headers: Record<string, string> = {
      'content-type': type,
      'content-length': String(stats.size),
      'cache-control': cacheable ? 'public, max-age=31536000, immutable' : 'no-cache',
      ...PAGE_HEADERS,
    };
    if (c.req.method === 'HEAD') return new Response(null, { status: 200, headers });
    const body = Readable.toWeb(createReadStream(file)) as unknown as ReadableStream;
    return new Response(body, { status: 200, headers });
  };

  /** A path inside `root`, or undefined (no escaping with .. or encoded separators). */
  const locate = (path: string): string | undefined => {
    let decoded: string;
    try {
      decoded = decodeURIComponent(path);
    } catch {
      return undefined;
    }
    if (decoded.includes('\0')) return undefined;
    const full = normalize(join(root, decoded));
    if (full !== root && !full.startsWith(root + sep)) return undefined;
    try {
      return statSync(full).isFile() ? full : undefined;
    } catch {
      return undefined;
    }
  };

  app.on(['GET', 'HEAD'], '*', async (c) => {
    const url = new URL(c.req.url);
    const token = url.searchParams.get('token');
    if (token !== null && deps.security.auth && deps.security.token) {
      // Only the owner token makes a device: the agent token is no key to the UI.
      if (!tokensEqual(token, deps.security.token)) {
        return c.text('Wrong token: open the URL the server printed when it started.\n', 401, { ...PAGE_HEADERS, 'cache-control': 'no-store' });
      }
      // A browser that already is a device stays that device (reopening the link makes no
      // second one); a HEAD (a link checker) makes none.
      if (c.req.method === 'GET' && !(await deviceOfCookie(c, deps.security))) {
        const { device, secret } = await deps.security.devices!.create(deviceName(c.req.header('user-agent')));
        // Said out loud: a device nobody expected is the first sign the owner token leaked.
        deps.logger?.info('new device', { id: device.id, name: device.name });
        setSessionCookie(c, cookieNameOf(deps.security), secret);
      }
      url.searchParams.delete('token');
      const rest = url.searchParams.toString();
      c.header('cache-control', 'no-store');
      return c.redirect(`${safeRedirectPath(url.pathname)}${rest ? `?${rest}` : ''}`, 302);
    }
    if (!existsSync(join(root, 'index.html'))) return notBuilt();
    const path = c.req.path;
    const file = path === '/' ? undefined : locate(path);
    if (file) return fileResponse(file, c, path.startsWith('/assets/'));
    // A missing asset is a 404; any other path is a page of the single-page UI.
    if (extname(path) !== '' && !path.endsWith('.html')) return c.text('Not found\n', 404);
    return fileResponse(join(root, 'index.html'), c, false);
  });
  return app;
}
