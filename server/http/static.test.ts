/**
 * The files of the installable app as the static routes serve them: the service worker and
 * the manifest with their types, the worker never cached by HTTP, every answer with the
 * page security headers, and no credential needed.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAllowList } from '../security/allowList.ts';
import { safeRedirectPath, staticRoutes } from './static.ts';

let dist: string;
const security = {
  auth: true,
  token: 'static-test-token-0123456789',
  port: () => 3000,
  allowList: () => buildAllowList({ bindHost: '127.0.0.1', port: 3000, extraOrigins: [], extraHosts: [] }),
};

beforeAll(() => {
  dist = mkdtempSync(join(tmpdir(), 'gatehouse-static-'));
  mkdirSync(join(dist, 'icons'));
  writeFileSync(join(dist, 'index.html'), '<!doctype html><title>Gatehouse</title>');
  writeFileSync(join(dist, 'sw.js'), 'self.addEventListener("fetch", () => {});');
  writeFileSync(join(dist, 'manifest.webmanifest'), '{"name":"Gatehouse"}');
  writeFileSync(join(dist, 'icons', 'icon-192.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47]));
});
afterAll(() => rmSync(dist, { recursive: true, force: true }));

const get = (root: string, path: string) => staticRoutes({ staticDir: root, security }).request(`http://127.0.0.1:3000${path}`);

function expectPageHeaders(res: Response) {
  expect(res.headers.get('x-frame-options')).toBe('DENY');
  expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  expect(res.headers.get('referrer-policy')).toBe('no-referrer');
  expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
}

describe('installable app files', () => {
  it('APP-2, SEC-10: /sw.js is JavaScript, never cached by HTTP, with the page headers and no credential', async () => {
    const res = await get(dist, '/sw.js');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expectPageHeaders(res);
    expect(await res.text()).toContain('addEventListener');
  });

  it('APP-2, SEC-10: the manifest and icons have their types and the page headers', async () => {
    const manifest = await get(dist, '/manifest.webmanifest');
    expect(manifest.status).toBe(200);
    expect(manifest.headers.get('content-type')).toMatch(/^application\/manifest\+json/);
    expectPageHeaders(manifest);
    const icon = await get(dist, '/icons/icon-192.png');
    expect(icon.headers.get('content-type')).toBe('image/png');
    expectPageHeaders(icon);
  });

  it('APP-2: a build without a worker answers 404 for /sw.js, never the page', async () => {
    const bare = mkdtempSync(join(tmpdir(), 'gatehouse-static-'));
    writeFileSync(join(bare, 'index.html'), '<!doctype html><title>Gatehouse</title>');
    try {
      const res = await get(bare, '/sw.js');
      expect(res.status).toBe(404);
      expect(await res.text()).not.toContain('<title>');
    } finally {
      rmSync(bare, { recursive: true, force: true });
    }
  });
});

describe('the ?token= redirect', () => {
  it('AUTH-8: safeRedirectPath keeps paths of this origin and turns anything a browser reads as another origin into /', () => {
    for (const path of ['/', '/history', '/a//b', '/a/%2F%2Fevil', '/x.html', '/%5Cevil']) expect(safeRedirectPath(path), path).toBe(path);
    for (const path of [
      '//evil.example',
      '//evil.example/',
      '/\\evil.example',
      '/\\/evil',
      '///evil',
      '',
      'evil.example',
      'http://evil.example/',
      '/a b',
      '/a\tb',
      '/\u202e',
    ]) {
      expect(safeRedirectPath(path), JSON.stringify(path)).toBe('/');
    }
    // What each of them means to a browser: the kept ones stay on this origin.
    for (const path of ['/', '/history', '/a//b', '/a/%2F%2Fevil', '/%5Cevil'])
      expect(new URL(path, 'http://127.0.0.1:3000/x').origin).toBe('http://127.0.0.1:3000');
    expect(new URL('//evil.example/', 'http://127.0.0.1:3000/x').origin).not.toBe('http://127.0.0.1:3000');
    expect(new URL('/\\evil.example/', 'http://127.0.0.1:3000/x').origin).not.toBe('http://127.0.0.1:3000');
  });
});
