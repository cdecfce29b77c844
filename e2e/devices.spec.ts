/**
 * The Devices view (`#/devices`) in Chromium against a real server: the list (name, last
 * seen, this device), "Pair a device" with the QR code of a one-time link that a second
 * browser context opens (and that is refused a second time), ending that device from the
 * view (its socket closes, its page is Not authorised), and turning this device's
 * notifications on and off.
 *
 * Push in the browser: headless Chromium here has no push service behind its PushManager
 * (`subscribe` fails with "Registration failed - permission denied"), so that one object
 * is stubbed in the page (see `stubPushManager`): it hands back a subscription whose
 * endpoint is the fake push service of the test fixtures and whose keys the test made.
 * Everything else is real: the notification permission, the app's code, the server's
 * routes, and the push the server then sends, which the fake service verifies (VAPID)
 * and decrypts (aes128gcm) with those keys.
 */
import type { BrowserContext } from '@playwright/test';
import { startFakePushService, type FakePushService, type TestSubscription } from '../server/push/testing/fakePushService.ts';
import { seriousViolations } from './support/axe.ts';
import { bash, expect, openApp, test } from './support/gatehouse.ts';

test('HUM-1 HUM-2: Devices lists this device; Pair a device shows a QR code of a one-time link that a second browser opens once; ending it from the view closes its socket', async ({
  page,
  gatehouse,
  browser,
}) => {
  await openApp(page, gatehouse, '#/devices');
  await expect(page.getByRole('link', { name: 'Devices' })).toHaveAttribute('aria-current', 'page');
  const rows = page.getByTestId('device');
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText('this device');
  await expect(rows.first()).toContainText('last seen');

  await page.getByRole('button', { name: 'Pair a device' }).click();
  const url = (await page.getByTestId('pairing-url').textContent()) ?? '';
  expect(url).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${gatehouse.server.port}/pair/[A-Za-z0-9_-]+$`));
  const qr = page.getByTestId('pairing-qr');
  await expect(qr).toBeVisible();
  // The QR image really drew (an SVG data URL that loaded at its size).
  expect(await qr.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0)).toBe(true);
  expect(await qr.getAttribute('src')).toMatch(/^data:image\/svg\+xml/);
  expect((await seriousViolations(page)).map((v) => `${v.id}: ${v.help}`)).toEqual([]);

  // A second browser (a phone) opens the link: it becomes a device and sees the queue.
  const phone = await browser.newContext({
    userAgent: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Mobile Safari/537.36',
  });
  const phonePage = await phone.newPage();
  await phonePage.goto(url);
  expect(new URL(phonePage.url()).pathname).toBe('/');
  await expect(phonePage.getByTestId('connection-status')).toHaveText(/Connected/);
  const id = await gatehouse.createRequest(bash('echo from the phone'));
  await expect(phonePage.locator(`[data-testid="request-card"][data-request-id="${id}"]`)).toBeVisible();

  // The link works once: opened again (by anyone) it is refused.
  const again = await (await browser.newContext()).request.get(url);
  expect(again.status()).toBe(410);
  const againPhone = await phone.request.get(url);
  expect(againPhone.status()).toBe(410);

  // The first page lists both, and ends the phone after a confirmation.
  await page.getByRole('button', { name: 'Refresh' }).click();
  await expect(rows).toHaveCount(2);
  const phoneRow = rows.filter({ hasText: 'Android' });
  await expect(phoneRow).toHaveCount(1);
  await expect(phoneRow.locator('.badge')).toHaveCount(0);
  await phoneRow.getByRole('button', { name: /^End / }).click();
  await expect(phoneRow.getByRole('group')).toContainText('End this device?');
  await phoneRow.getByRole('button', { name: 'Cancel' }).click();
  await expect(rows).toHaveCount(2);
  await phoneRow.getByRole('button', { name: /^End / }).click();
  await phoneRow.getByRole('button', { name: 'End it' }).click();
  await expect(rows).toHaveCount(1);
  // Its socket was closed at once: the phone's page leaves Connected without a reload...
  await expect(phonePage.getByTestId('connection-status')).not.toHaveText(/^Connected/);
  // ...and stays out: it is Not authorised.
  await phonePage.reload();
  await expect(phonePage.getByTestId('not-authorised')).toContainText('Not authorised');
  await phone.close();
});

test.describe('phone', () => {
  test.use({ viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true, colorScheme: 'dark' });

  test('HUM-2: at 360 px in dark mode the Devices view with its QR code fits without sideways scroll, and axe finds nothing serious', async ({
    page,
    gatehouse,
  }) => {
    await openApp(page, gatehouse, '#/devices');
    await page.getByRole('button', { name: 'Pair a device' }).tap();
    await expect(page.getByTestId('pairing-qr')).toBeVisible();
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    expect((await seriousViolations(page)).map((v) => `${v.id}: ${v.help}`)).toEqual([]);
  });
});

test('HUM-1: ending this very device from the view signs this page out', async ({ page, gatehouse }) => {
  await openApp(page, gatehouse, '#/devices');
  const me = page.getByTestId('device').filter({ has: page.locator('.badge', { hasText: 'this device' }) });
  await me.getByRole('button', { name: /^End / }).click();
  await expect(me.getByRole('group')).toContainText('This page will be signed out');
  await me.getByRole('button', { name: 'End it' }).click();
  await expect(page.getByTestId('not-authorised')).toContainText('Not authorised');
  expect((await gatehouse.server.api('/api/devices')).body.devices).toEqual([]);
});

let service: FakePushService;
let subscription: TestSubscription;

/**
 * The stub: PushManager.subscribe/getSubscription answer with the test's subscription
 * (stands in for the browser's push service, which headless Chromium lacks here); it
 * records the applicationServerKey it was given so the test can check the app passed
 * the server's VAPID key.
 */
async function stubPushManager(context: BrowserContext, sub: { endpoint: string; keys: { p256dh: string; auth: string } }): Promise<void> {
  await context.addInitScript((fake) => {
    // Kept in localStorage: a subscription outlives the page, as a real one does.
    const w = window as unknown as { __push: { key: number[] | null; subscribed: boolean } };
    const saved = localStorage.getItem('push-stub');
    w.__push = saved ? (JSON.parse(saved) as typeof w.__push) : { key: null, subscribed: false };
    const save = () => localStorage.setItem('push-stub', JSON.stringify(w.__push));
    const make = (key: ArrayBuffer) => ({
      endpoint: fake.endpoint,
      expirationTime: null,
      options: { applicationServerKey: key, userVisibleOnly: true },
      toJSON: () => ({ endpoint: fake.endpoint, expirationTime: null, keys: fake.keys }),
      unsubscribe: async () => {
        w.__push.subscribed = false;
        save();
        return true;
      },
    });
    let current: ReturnType<typeof make> | null = w.__push.subscribed ? make(new Uint8Array(w.__push.key ?? []).buffer) : null;
    PushManager.prototype.subscribe = async (options?: PushSubscriptionOptionsInit) => {
      const raw = options?.applicationServerKey;
      const bytes =
        raw instanceof ArrayBuffer ? new Uint8Array(raw) : ArrayBuffer.isView(raw) ? new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength) : null;
      w.__push.key = bytes ? [...bytes] : null;
      w.__push.subscribed = true;
      save();
      current = make((bytes ?? new Uint8Array()).slice().buffer);
      return current as unknown as PushSubscription;
    };
    PushManager.prototype.getSubscription = async () => (w.__push.subscribed ? (current as unknown as PushSubscription) : null);
  }, sub);
}

test.describe('notifications', () => {
  test.beforeAll(async () => {
    service = await startFakePushService();
  });
  test.afterAll(async () => {
    await service.close();
  });
  test.use({
    // biome-ignore lint/correctness/noEmptyPattern: Playwright reads a fixture's dependencies from this pattern (none here)
    serverArgs: async ({}, use) => {
      await use(['--agent', 'demo', '--push-delay-ms', '200', '--push-allowed-origins', service.origin]);
    },
  });

  test('HUM-3: Turn on notifications asks the permission, subscribes with the server key and posts the subscription; a request then arrives as a real push; Turn off deletes it', async ({
    page,
    context,
    gatehouse,
  }) => {
    const publicKey = (await gatehouse.server.api('/api/push/key')).body.publicKey as string;
    service.trustKey(publicKey);
    subscription = service.newSubscription();
    await context.grantPermissions(['notifications']);
    await stubPushManager(context, { endpoint: subscription.endpoint, keys: subscription.keys });

    await openApp(page, gatehouse, '#/devices');
    await expect(page.getByTestId('push-status')).toContainText('Off');
    const posted = page.waitForRequest((r) => new URL(r.url()).pathname === '/api/push/subscriptions' && r.method() === 'POST');
    await page.getByRole('button', { name: 'Turn on notifications' }).click();
    const post = await posted;
    expect(post.postDataJSON()).toMatchObject({ endpoint: subscription.endpoint, keys: subscription.keys });
    expect(await post.headerValue('x-gatehouse-client')).toBe('web');
    await expect(page.getByTestId('push-status')).toContainText('On:');
    const key = await page.evaluate(() => (window as unknown as { __push: { key: number[] | null } }).__push.key);
    expect(Buffer.from(key ?? []).toString('base64url')).toBe(publicKey);

    // No screen open: the next request is pushed to this device's subscription.
    await page.close();
    const id = await gatehouse.createRequest(bash('echo pushed'));
    const [push] = await service.waitFor((p) => p.endpoint === subscription.endpoint && p.message?.id === id);
    expect(push?.error).toBeUndefined();
    expect(push?.message).toEqual({ type: 'permission-request', id, toolName: 'Bash' });

    // Turned off: the server forgets it (posting it again is a new one: 201, not 200).
    const again = await context.newPage();
    await openApp(again, gatehouse, '#/devices');
    await expect(again.getByTestId('push-status')).toContainText('On:');
    const deleted = again.waitForRequest((r) => new URL(r.url()).pathname === '/api/push/subscriptions' && r.method() === 'DELETE');
    await again.getByRole('button', { name: 'Turn off notifications' }).click();
    expect((await deleted).postDataJSON()).toEqual({ endpoint: subscription.endpoint });
    await expect(again.getByTestId('push-status')).toContainText('Off');
    const repost = await gatehouse.server.api('/api/push/subscriptions', {
      method: 'POST',
      json: { endpoint: subscription.endpoint, keys: subscription.keys },
    });
    expect(repost.status).toBe(201);
  });

  test('HUM-3: notifications blocked for the site say so and offer no button', async ({ page, context, gatehouse }) => {
    await context.addInitScript(() => {
      Object.defineProperty(Notification, 'permission', { get: () => 'denied' });
    });
    await openApp(page, gatehouse, '#/devices');
    await expect(page.getByTestId('push-status')).toContainText('blocked');
    await expect(page.getByRole('button', { name: /notifications/ })).toHaveCount(0);
  });
});
