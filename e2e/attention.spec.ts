/**
 * A request that arrives while the tab is hidden: a desktop notification and a count in
 * the title, cleared when the tab is visible again. Headless Chromium keeps every page
 * "visible", so visibility is emulated by overriding `document.visibilityState` and
 * firing `visibilitychange` (exactly what the browser does); the Notification
 * constructor is observed with a recording wrapper around the granted permission.
 */
import { bash, expect, openApp, test } from './support/gatehouse.ts';

test('E2E-17: a hidden tab gets a notification and a count in its title', async ({ page, gatehouse, context }) => {
  await context.grantPermissions(['notifications']);
  await page.addInitScript(() => {
    const w = window as unknown as { __hidden: boolean; __notes: Array<{ title: string; body?: string }> };
    w.__hidden = false;
    w.__notes = [];
    Object.defineProperty(Document.prototype, 'visibilityState', { configurable: true, get: () => (w.__hidden ? 'hidden' : 'visible') });
    Object.defineProperty(Document.prototype, 'hidden', { configurable: true, get: () => w.__hidden });
    class RecordingNotification {
      static permission: NotificationPermission = 'granted';
      static requestPermission = async () => 'granted' as NotificationPermission;
      onclick: (() => void) | null = null;
      constructor(title: string, options?: NotificationOptions) {
        w.__notes.push({ title, ...(options?.body !== undefined ? { body: options.body } : {}) });
      }
      close() {}
    }
    (window as unknown as { Notification: unknown }).Notification = RecordingNotification;
  });
  await openApp(page, gatehouse);
  await expect(page).toHaveTitle('Gatehouse');
  await page.evaluate(() => {
    (window as unknown as { __hidden: boolean }).__hidden = true;
    document.dispatchEvent(new Event('visibilitychange'));
  });
  await gatehouse.createRequest(bash('git push --force'));
  await expect(page).toHaveTitle('(1) Gatehouse');
  const notes = await page.evaluate(() => (window as unknown as { __notes: unknown[] }).__notes);
  expect(notes).toEqual([{ title: 'Permission request: Bash', body: 'git push --force' }]);
  await gatehouse.createRequest(bash('git push --force-with-lease'));
  await expect(page).toHaveTitle('(2) Gatehouse');

  await page.evaluate(() => {
    (window as unknown as { __hidden: boolean }).__hidden = false;
    document.dispatchEvent(new Event('visibilitychange'));
  });
  await expect(page).toHaveTitle('Gatehouse');
});
