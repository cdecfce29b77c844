/**
 * The screenshots in docs/screenshots/, taken only on request: `npm run screenshots`
 * (GATEHOUSE_SCREENSHOTS=1 adds this project to playwright.config.ts; a plain
 * `playwright test` or `npm test` never runs it, so tests never write tracked files).
 * Every view at desktop size and at phone size (390 × 844, touch), plus dark mode.
 */
import { join } from 'node:path';
import type { Page } from '@playwright/test';
import { SCREENSHOTS, bash, card, expect, openApp, test, type Gatehouse } from './support/gatehouse.ts';
import { auditScene, chatScene, devicesScene, helpScene, queueScene, rulesScene } from './support/scenes.ts';

const shot = (page: Page, name: string, fullPage: boolean) =>
  page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage, animations: 'disabled', caret: 'hide' });

/** Reconnecting, with a decision clicked while the server was away. */
async function reconnectingScene(page: Page, g: Gatehouse): Promise<void> {
  await openApp(page, g);
  const id = await g.createRequest(bash('docker compose up -d'));
  await g.createRequest(bash('npm run migrate'));
  await expect(card(page, id)).toBeVisible();
  await g.kill();
  await expect(page.getByTestId('connection-status')).toContainText(/Reconnecting|Offline/);
  await card(page, id).getByRole('button', { name: 'Allow', exact: true }).click();
  await expect(card(page, id).getByRole('status')).toContainText('will be sent on reconnect');
}

/** A reload with the server down: the last known queue from the service worker's shell. */
async function lastKnownScene(page: Page, g: Gatehouse): Promise<void> {
  await openApp(page, g);
  await page.evaluate(() => navigator.serviceWorker.ready.then(() => true));
  await page.reload();
  await expect(page.getByTestId('connection-status')).toHaveText(/Connected/);
  await g.createRequest(bash('git push --force-with-lease origin main'));
  await g.createRequest({
    toolName: 'Write',
    input: { file_path: '/work/project/.env.example', content: 'PORT=3000\nLOG_LEVEL=info\n' },
    context: { sessionId: 'e2e-session', cwd: '/work/project' },
  });
  await expect(page.getByTestId('request-card')).toHaveCount(2);
  await expect
    .poll(() =>
      page.evaluate(
        () =>
          new Promise<number>((resolve) => {
            const open = indexedDB.open('gatehouse', 1);
            open.onsuccess = () => {
              const get = open.result.transaction('offline').objectStore('offline').get('last-queue');
              get.onsuccess = () => resolve(get.result?.requests?.length ?? 0);
            };
          }),
      ),
    )
    .toBe(2);
  await g.kill();
  await page.reload();
  await expect(page.getByTestId('last-known-card')).toHaveCount(2);
}

test.describe('desktop', () => {
  test.use({ viewport: { width: 1280, height: 800 } });

  test('screenshots: queue and diff card', async ({ page, gatehouse }) => {
    const { edit } = await queueScene(page, gatehouse);
    await shot(page, 'queue', true);
    await card(page, edit).screenshot({ path: join(SCREENSHOTS, 'diff-card.png') });
  });
  test('screenshots: chat', async ({ page, gatehouse }) => {
    await chatScene(page, gatehouse);
    await shot(page, 'chat', true);
  });
  test('screenshots: rules', async ({ page, gatehouse }) => {
    await rulesScene(page, gatehouse);
    await shot(page, 'rules', true);
  });
  test('screenshots: audit', async ({ page, gatehouse }) => {
    await auditScene(page, gatehouse);
    await shot(page, 'audit', true);
  });
  test('screenshots: devices', async ({ page, gatehouse }) => {
    await devicesScene(page, gatehouse);
    await shot(page, 'devices', true);
  });
  test('screenshots: help', async ({ page, gatehouse }) => {
    await helpScene(page, gatehouse);
    await shot(page, 'help', false);
  });
  test('screenshots: reconnecting', async ({ page, gatehouse }) => {
    await reconnectingScene(page, gatehouse);
    await shot(page, 'offline', true);
  });
  test('screenshots: last known queue', async ({ page, gatehouse }) => {
    await lastKnownScene(page, gatehouse);
    await shot(page, 'last-known-queue', true);
  });
  test.describe('dark', () => {
    test.use({ colorScheme: 'dark' });
    test('screenshots: queue in dark mode', async ({ page, gatehouse }) => {
      await queueScene(page, gatehouse);
      await shot(page, 'queue-dark', true);
    });
  });
});

test.describe('phone', () => {
  // The first screen, as a phone shows it without scrolling.
  test.use({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });

  test('screenshots: phone queue', async ({ page, gatehouse }) => {
    await queueScene(page, gatehouse);
    await page.evaluate(() => window.scrollTo(0, 0));
    await shot(page, 'phone-queue', false);
  });
  test('screenshots: phone chat', async ({ page, gatehouse }) => {
    await chatScene(page, gatehouse);
    await shot(page, 'phone-chat', false);
  });
  test('screenshots: phone rules', async ({ page, gatehouse }) => {
    await rulesScene(page, gatehouse);
    await shot(page, 'phone-rules', false);
  });
  test('screenshots: phone audit', async ({ page, gatehouse }) => {
    await auditScene(page, gatehouse);
    await shot(page, 'phone-audit', false);
  });
  test('screenshots: phone devices', async ({ page, gatehouse }) => {
    await devicesScene(page, gatehouse);
    await shot(page, 'phone-devices', false);
  });
  test('screenshots: phone help', async ({ page, gatehouse }) => {
    await helpScene(page, gatehouse);
    await shot(page, 'phone-help', false);
  });
  test('screenshots: phone last known queue', async ({ page, gatehouse }) => {
    await lastKnownScene(page, gatehouse);
    await page.evaluate(() => window.scrollTo(0, 0));
    await shot(page, 'phone-last-known-queue', false);
  });
  test.describe('dark', () => {
    test.use({ colorScheme: 'dark' });
    test('screenshots: phone queue in dark mode', async ({ page, gatehouse }) => {
      await queueScene(page, gatehouse);
      await page.evaluate(() => window.scrollTo(0, 0));
      await shot(page, 'phone-queue-dark', false);
    });
  });
});
