/**
 * Install criteria and offline use, in Chromium against a real server: the manifest is
 * linked and parses, its 192 and 512 px icons load at those sizes, a service worker
 * controls the page after a reload, its cache holds the shell and nothing of the API or
 * the token; offline, or with the server down, a reload still opens the app and shows the
 * last known queue read-only.
 */
import type { Page } from '@playwright/test';
import { seriousViolations } from './support/axe.ts';
import { bash, card, expect, openApp, test } from './support/gatehouse.ts';

/** Waits until a service worker controls the page (after the reload that follows install). */
async function controlledAfterReload(page: Page): Promise<void> {
  await page.evaluate(() => navigator.serviceWorker.ready.then(() => true));
  await page.reload();
  await expect(page.getByTestId('connection-status')).toHaveText(/Connected/);
  expect(await page.evaluate(() => navigator.serviceWorker.controller !== null)).toBe(true);
}

/** The request ids of the queue saved for offline use, read from IndexedDB. */
function savedQueueIds(page: Page): Promise<string[]> {
  return page.evaluate(
    () =>
      new Promise<string[]>((resolve) => {
        const open = indexedDB.open('gatehouse', 1);
        open.onupgradeneeded = () => open.result.createObjectStore('offline');
        open.onsuccess = () => {
          const tx = open.result.transaction('offline', 'readonly');
          const get = tx.objectStore('offline').get('last-queue');
          get.onsuccess = () => {
            open.result.close();
            resolve(((get.result?.requests ?? []) as Array<{ id: string }>).map((r) => r.id));
          };
          get.onerror = () => resolve([]);
        };
        open.onerror = () => resolve([]);
      }),
  );
}

test('APP-1: the manifest is linked and parses: standalone, scope /, with 192 and 512 px PNG icons that load at those sizes', async ({ page, gatehouse }) => {
  await openApp(page, gatehouse);
  const href = await page.locator('link[rel="manifest"]').getAttribute('href');
  expect(href).toBeTruthy();
  const response = await page.request.get(new URL(href!, page.url()).href);
  expect(response.status()).toBe(200);
  expect(response.headers()['content-type']).toMatch(/^application\/manifest\+json/);
  const manifest = await response.json();
  expect(manifest).toMatchObject({ name: 'Gatehouse', short_name: 'Gatehouse', start_url: '/', scope: '/', display: 'standalone' });
  expect(manifest.theme_color).toMatch(/^#[0-9a-f]{6}$/i);
  expect(manifest.background_color).toMatch(/^#[0-9a-f]{6}$/i);
  type Icon = { src: string; sizes: string; type: string; purpose?: string };
  const icons = manifest.icons as Icon[];
  for (const size of [192, 512]) {
    const icon = icons.find((i) => i.sizes === `${size}x${size}` && (i.purpose ?? 'any').split(' ').includes('any'));
    expect(icon, `an icon of ${size} px`).toBeDefined();
    expect(icon!.type).toBe('image/png');
  }
  expect(icons.some((i) => i.purpose === 'maskable')).toBe(true);
  for (const icon of icons) {
    const loaded = await page.evaluate(async (src) => {
      const img = new Image();
      img.src = src;
      await img.decode();
      return `${img.naturalWidth}x${img.naturalHeight}`;
    }, icon.src);
    expect(loaded, icon.src).toBe(icon.sizes);
  }
  // iOS reads its own tags.
  const apple = await page.locator('link[rel="apple-touch-icon"]').getAttribute('href');
  expect(
    await page.evaluate(async (src) => {
      const img = new Image();
      img.src = src;
      await img.decode();
      return img.naturalWidth;
    }, apple!),
  ).toBe(180);
  await expect(page.locator('meta[name="theme-color"]').first()).toHaveAttribute('content', /^#[0-9a-f]{6}$/i);
});

test("APP-1, APP-3: Chromium itself finds the app installable: its manifest parses without error and nothing but the test browser's incognito profile stands in the way", async ({
  page,
  gatehouse,
}) => {
  await openApp(page, gatehouse);
  await controlledAfterReload(page);
  // DevTools' own install check (manifest, icons, a worker with a fetch handler, a secure
  // context). Playwright's contexts are incognito-like, which Chromium reports by itself.
  const cdp = await page.context().newCDPSession(page);
  const manifest = (await cdp.send('Page.getAppManifest' as never)) as { url: string; errors: unknown[] };
  expect(manifest.url).toMatch(/\/manifest\.webmanifest$/);
  expect(manifest.errors).toEqual([]);
  const installability = (await cdp.send('Page.getInstallabilityErrors' as never)) as { installabilityErrors: Array<{ errorId: string }> };
  expect(installability.installabilityErrors.map((e) => e.errorId).filter((id) => id !== 'in-incognito')).toEqual([]);
});

test('APP-2: /sw.js and the manifest are served with their types, no-cache for the worker, and the page security headers', async ({ page, gatehouse }) => {
  await openApp(page, gatehouse);
  const at = (path: string) => new URL(path, page.url()).href;
  const sw = await page.request.get(at('/sw.js'));
  expect(sw.status()).toBe(200);
  expect(sw.headers()['content-type']).toMatch(/^text\/javascript/);
  expect(sw.headers()['cache-control']).toBe('no-cache');
  for (const res of [sw, await page.request.get(at('/manifest.webmanifest')), await page.request.get(at('/'))]) {
    expect(res.headers()['x-frame-options']).toBe('DENY');
    expect(res.headers()['x-content-type-options']).toBe('nosniff');
    expect(res.headers()['referrer-policy']).toBe('no-referrer');
    expect(res.headers()['content-security-policy']).toContain("frame-ancestors 'none'");
  }
});

test('APP-3, APP-4: a service worker controls the page after a reload; its one cache holds the shell, never the API or a token', async ({
  page,
  gatehouse,
}) => {
  await openApp(page, gatehouse);
  await controlledAfterReload(page);
  // Use the API (rules, audit) and open the ?token= link again while controlled.
  await page.getByRole('link', { name: 'Rules' }).click();
  await page.getByRole('link', { name: 'Audit' }).click();
  await openApp(page, gatehouse);
  expect(page.url()).not.toContain('token=');
  const cached = await page.evaluate(async () => {
    const names = await caches.keys();
    const urls: string[] = [];
    for (const name of names) for (const r of await (await caches.open(name)).keys()) urls.push(new URL(r.url).pathname + new URL(r.url).search);
    return { names, urls };
  });
  expect(cached.names).toHaveLength(1);
  expect(cached.names[0]).toMatch(/^gatehouse-shell-[0-9a-f]{16}$/);
  expect(cached.urls).toContain('/');
  expect(cached.urls).toContain('/manifest.webmanifest');
  expect(cached.urls.some((u) => /^\/assets\/.+\.js$/.test(u))).toBe(true);
  expect(cached.urls.filter((u) => u.startsWith('/api') || u.startsWith('/ws') || u.includes('token') || u.includes('?'))).toEqual([]);
});

test('APP-3: offline, a reload still opens the app and shows the last known queue read-only with its banner; back online, the live queue returns', async ({
  page,
  context,
  gatehouse,
}) => {
  await openApp(page, gatehouse);
  await controlledAfterReload(page);
  const command = 'git push --force-with-lease origin main';
  const id = await gatehouse.createRequest(bash(command));
  await expect(card(page, id)).toBeVisible();
  await expect.poll(() => savedQueueIds(page)).toEqual([id]);

  await context.setOffline(true);
  const response = await page.reload();
  expect(response?.fromServiceWorker()).toBe(true);
  await expect(page.getByTestId('offline-banner')).toContainText('Offline: last known queue');
  await expect(page.getByTestId('offline-banner')).toContainText('decisions wait');
  const saved = page.locator(`[data-testid="last-known-card"][data-request-id="${id}"]`);
  await expect(saved.getByLabel('Command')).toHaveText(command);
  await expect(saved.getByRole('button')).toHaveCount(0);
  await expect(page.getByTestId('connection-status')).toHaveText(/Reconnecting|Offline/);
  expect(await seriousViolations(page)).toEqual([]);

  // Back online: the browser's online event reconnects at once (no click needed).
  await context.setOffline(false);
  await expect(page.getByTestId('connection-status')).toHaveText(/Connected/, { timeout: 20_000 });
  await expect(card(page, id)).toBeVisible();
  await expect(page.getByTestId('offline-banner')).toHaveCount(0);
});

test('APP-3: with the server down, a reload opens the app from the worker and shows the last known queue', async ({ page, gatehouse }) => {
  await openApp(page, gatehouse);
  await controlledAfterReload(page);
  const id = await gatehouse.createRequest(bash('terraform destroy -auto-approve'));
  await expect(card(page, id)).toBeVisible();
  await expect.poll(() => savedQueueIds(page)).toEqual([id]);
  await gatehouse.kill();
  await page.reload();
  await expect(page.getByTestId('offline-banner')).toContainText('Offline: last known queue');
  await expect(page.locator(`[data-testid="last-known-card"][data-request-id="${id}"]`)).toContainText('terraform destroy -auto-approve');
});
