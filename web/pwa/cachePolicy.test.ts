import { describe, expect, it } from 'vitest';
import { cacheName, fitForShell, planFetch, shellPaths, staleCaches } from './cachePolicy.ts';

const ORIGIN = 'http://127.0.0.1:4100';
const SHELL = new Set(shellPaths(['index.html', 'assets/index-abc123.js', 'assets/index-def456.css', 'manifest.webmanifest', 'icons/icon-192.png']));
const get = (path: string, mode = 'cors') => planFetch({ method: 'GET', url: `${ORIGIN}${path}`, mode }, ORIGIN, SHELL);

describe('service worker cache policy', () => {
  it('APP-4: the API, the socket, probes and pairing links are never intercepted, whatever the mode', () => {
    for (const path of ['/api', '/api/permission-requests', '/api/rules/r1', '/ws', '/ws/x', '/metrics', '/readyz', '/healthz', '/pair/ABC123']) {
      expect(get(path)).toEqual({ kind: 'network' });
      expect(get(path, 'navigate')).toEqual({ kind: 'network' });
    }
  });

  it('APP-4: anything with a query string (above all ?token=) goes to the network untouched', () => {
    expect(get('/?token=secret', 'navigate')).toEqual({ kind: 'network' });
    expect(get('/assets/index-abc123.js?token=secret')).toEqual({ kind: 'network' });
    expect(get('/?inspect=1', 'navigate')).toEqual({ kind: 'network' });
  });

  it('APP-4: other methods and other origins are not intercepted', () => {
    expect(planFetch({ method: 'POST', url: `${ORIGIN}/assets/index-abc123.js`, mode: 'cors' }, ORIGIN, SHELL)).toEqual({ kind: 'network' });
    expect(planFetch({ method: 'GET', url: 'http://127.0.0.1:9999/assets/index-abc123.js', mode: 'cors' }, ORIGIN, SHELL)).toEqual({ kind: 'network' });
    expect(planFetch({ method: 'GET', url: 'not a url', mode: 'cors' }, ORIGIN, SHELL)).toEqual({ kind: 'network' });
  });

  it('APP-3: the shell files come from the cache; pages go to the network first; the rest is not intercepted', () => {
    expect(get('/assets/index-abc123.js')).toEqual({ kind: 'shell' });
    expect(get('/icons/icon-192.png')).toEqual({ kind: 'shell' });
    expect(get('/', 'navigate')).toEqual({ kind: 'page' });
    expect(get('/anything', 'navigate')).toEqual({ kind: 'page' });
    expect(get('/assets/other-999.js')).toEqual({ kind: 'network' });
  });

  it('APP-3: the shell is the page, the assets and the public files, without maps, the worker or server paths', () => {
    expect(shellPaths(['index.html', 'assets/a-1.js', 'assets/a-1.js.map', 'sw.js', 'manifest.webmanifest', 'api/x', '/icons/i.png'])).toEqual([
      '/',
      '/assets/a-1.js',
      '/icons/i.png',
      '/manifest.webmanifest',
    ]);
  });

  it('APP-5: a new build has its own cache, and the caches of older builds are deleted', () => {
    expect(cacheName('v2')).not.toBe(cacheName('v1'));
    expect(staleCaches([cacheName('v1'), cacheName('v2'), 'someone-else'], 'v2')).toEqual([cacheName('v1')]);
  });

  it('APP-4: only a plain same-origin 200 that was not redirected is kept', () => {
    expect(fitForShell({ ok: true, status: 200, redirected: false, type: 'basic' })).toBe(true);
    expect(fitForShell({ ok: true, status: 200, redirected: true, type: 'basic' })).toBe(false);
    expect(fitForShell({ ok: false, status: 401, redirected: false, type: 'basic' })).toBe(false);
    expect(fitForShell({ ok: true, status: 206, redirected: false, type: 'basic' })).toBe(false);
    expect(fitForShell({ ok: false, status: 0, redirected: false, type: 'opaqueredirect' })).toBe(false);
  });
});
