/**
 * What the service worker (web/pwa/sw.ts) may do with a request, as pure functions so the
 * rules are tested without a browser (cachePolicy.test.ts).
 *
 * The one cache holds exactly the app shell of one build (index.html, the hashed assets,
 * the manifest and icons), fetched when the worker installs. Nothing is ever added at run
 * time, so no answer of the API, no WebSocket, no pairing link and nothing that carried a
 * token can end up in it. A navigation goes to the network first (the server may redirect
 * `?token=` to a cookie, or have a new build), and only when the network fails is the
 * cached shell shown. docs/ui.md ("Installable app") says the same for users.
 */

/** What the worker does with one request. */
export type FetchPlan =
  /** Not intercepted: the browser fetches it as if there were no worker; never stored. */
  | { kind: 'network' }
  /** A file of the shell: the cached copy, else the network (the answer is not stored). */
  | { kind: 'shell' }
  /** A page: the network, and the cached shell if the network fails. */
  | { kind: 'page' };

export type FetchInfo = { method: string; url: string; mode: string };

/** Paths that always belong to the server: the API, the socket, probes, pairing links. */
const SERVER_ONLY = ['/api', '/ws', '/metrics', '/readyz', '/healthz', '/pair'];

export function isServerOnly(pathname: string): boolean {
  return SERVER_ONLY.some((prefix) => pathname === prefix || pathname.startsWith(`${prefix}/`));
}

export function planFetch(request: FetchInfo, origin: string, shell: ReadonlySet<string>): FetchPlan {
  if (request.method !== 'GET') return { kind: 'network' };
  let url: URL;
  try {
    url = new URL(request.url);
  } catch {
    return { kind: 'network' };
  }
  if (url.origin !== origin) return { kind: 'network' };
  // The shell has no query strings: anything with one (above all `?token=`) is the server's.
  if (url.search !== '') return { kind: 'network' };
  if (isServerOnly(url.pathname)) return { kind: 'network' };
  if (request.mode === 'navigate') return { kind: 'page' };
  if (shell.has(url.pathname)) return { kind: 'shell' };
  return { kind: 'network' };
}

const PREFIX = 'gatehouse-shell-';

/** The cache of one build. */
export function cacheName(version: string): string {
  return `${PREFIX}${version}`;
}

/** The caches of other builds, to delete once this one is active. */
export function staleCaches(names: readonly string[], version: string): string[] {
  return names.filter((name) => name.startsWith(PREFIX) && name !== cacheName(version));
}

/** Only a plain same-origin 200 that was not redirected is fit to keep as part of the shell. */
export function fitForShell(response: { ok: boolean; status: number; redirected: boolean; type: string }): boolean {
  return response.ok && response.status === 200 && !response.redirected && response.type === 'basic';
}

/** The shell of a build: the page, every emitted file but source maps and the worker
 *  itself, and the public files (manifest, icons). Paths, sorted, without duplicates. */
export function shellPaths(files: readonly string[]): string[] {
  const paths = files
    .map((f) => `/${f.replace(/^\/+/, '')}`)
    .filter((p) => !p.endsWith('.map') && p !== '/sw.js' && !isServerOnly(p))
    .map((p) => (p === '/index.html' ? '/' : p));
  return [...new Set(['/', ...paths])].sort();
}
