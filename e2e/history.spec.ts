/**
 * What a reload keeps, in Chromium against a real server: the History (loaded from the
 * server's `GET /api/history`), and a decision taken while the server was down (the
 * outbox kept in IndexedDB, sent again with its clientMsgId once the server is back).
 */
import type { Page } from '@playwright/test';
import { bash, card, expect, historyEntry, openApp, test } from './support/gatehouse.ts';

test('HUM-6: after a reload the History still lists the finished requests with their outcomes, newest first', async ({ page, gatehouse }) => {
  await openApp(page, gatehouse);
  const allowed = await gatehouse.createRequest(bash('echo allowed here'));
  const denied = await gatehouse.createRequest(bash('echo denied over http'));
  const pending = await gatehouse.createRequest(bash('echo still waiting'));
  const outcome = gatehouse.outcome(allowed);
  await card(page, allowed).getByRole('button', { name: 'Allow', exact: true }).click();
  expect(await outcome).toMatchObject({ decision: 'allow' });
  expect(
    (await gatehouse.server.api(`/api/permission-requests/${denied}/decision`, { method: 'POST', json: { decision: 'deny', message: 'not today' } })).status,
  ).toBe(200);
  await expect(historyEntry(page, denied)).toBeVisible();

  await page.reload();
  await expect(page.getByTestId('connection-status')).toHaveText(/Connected/);
  await expect(historyEntry(page, allowed)).toContainText('Allowed by a screen');
  await expect(historyEntry(page, allowed)).toContainText('echo allowed here');
  await expect(historyEntry(page, denied)).toContainText('Denied over the HTTP API');
  await expect(historyEntry(page, denied)).toContainText('not today');
  await expect(historyEntry(page, pending)).toHaveCount(0);
  await expect(card(page, pending)).toBeVisible();
  const order = await page.getByTestId('history-entry').evaluateAll((els) => els.map((e) => e.getAttribute('data-request-id')));
  expect(order).toEqual([denied, allowed]);
});

/** Waits until a service worker controls the page, so a reload works with the server down. */
async function controlled(page: Page): Promise<void> {
  await page.evaluate(() => navigator.serviceWorker.ready.then(() => true));
  await page.reload();
  await expect(page.getByTestId('connection-status')).toHaveText(/Connected/);
  expect(await page.evaluate(() => navigator.serviceWorker.controller !== null)).toBe(true);
}

test('HUM-9: a decision taken while the server is down survives a reload (whatever another tab does) and reaches the agent, once, when the server is back', async ({
  page,
  gatehouse,
}) => {
  await openApp(page, gatehouse);
  await controlled(page);
  // A second tab of the app shares IndexedDB; its own (empty) outbox must not erase this one's.
  const otherTab = await page.context().newPage();
  await openApp(otherTab, gatehouse);
  const id = await gatehouse.createRequest(bash('echo decided offline', { timeoutMs: 120_000 }));
  await expect(card(page, id)).toBeVisible();
  await expect(card(otherTab, id)).toBeVisible();
  await gatehouse.kill();
  await expect(otherTab.getByTestId('connection-status')).not.toHaveText(/^Connected/);
  await expect(page.getByTestId('connection-status')).not.toHaveText(/^Connected/);
  await card(page, id).getByRole('button', { name: 'Allow', exact: true }).click();
  await expect(card(page, id).getByRole('status')).toContainText('will be sent on reconnect');
  // The frame the page will send, read back from IndexedDB as the reload will.
  await expect.poll(() => keptOutbox(page)).toEqual([{ requestId: id, decision: 'allow', sent: false }]);

  await otherTab.reload(); // the other tab changes its outbox state too (empty)
  await page.reload(); // the server is still down: the worker serves the app
  await expect(page.getByTestId('offline-banner')).toBeVisible();
  const frames: string[] = [];
  page.on('websocket', (ws) => ws.on('framesent', (f) => typeof f.payload === 'string' && f.payload.includes('permission-response') && frames.push(f.payload)));
  const otherFrames: string[] = [];
  otherTab.on('websocket', (ws) =>
    ws.on('framesent', (f) => typeof f.payload === 'string' && f.payload.includes('permission-response') && otherFrames.push(f.payload)),
  );
  await gatehouse.restart();
  expect(await gatehouse.outcome(id)).toMatchObject({ status: 'resolved', decision: 'allow' });
  await expect(historyEntry(page, id)).toContainText('Allowed by you');
  await expect.poll(() => keptOutbox(page)).toEqual([]);
  // Sent with the clientMsgId it was made with before the reload.
  expect(frames.length).toBeGreaterThanOrEqual(1);
  const sent = JSON.parse(frames[0] ?? '{}') as { clientMsgId?: string; requestId?: string };
  expect(sent.requestId).toBe(id);
  expect(sent.clientMsgId).toBe(madeWith);
  // The other tab neither lost it nor took it over: the decision is this tab's alone.
  await expect(otherTab.getByTestId('connection-status')).toHaveText(/Connected/, { timeout: 20_000 });
  expect(otherFrames).toEqual([]);
});

let madeWith: string | undefined;

/** The outbox the page kept in IndexedDB (its requestIds, decisions and sent flags). */
async function keptOutbox(page: Page): Promise<Array<{ requestId: string; decision: string; sent: boolean }>> {
  const kept = await page.evaluate(
    () =>
      new Promise<Array<{ requestId: string; clientMsgId: string; sent: boolean; frame: { decision: string } }>>((resolve) => {
        const open = indexedDB.open('gatehouse', 1);
        open.onupgradeneeded = () => open.result.createObjectStore('offline');
        open.onsuccess = () => {
          const tx = open.result.transaction('offline', 'readonly');
          const get = tx.objectStore('offline').get(`outbox:${sessionStorage.getItem('gatehouse-tab')}`);
          get.onsuccess = () => {
            open.result.close();
            resolve((get.result as { entries?: [] } | undefined)?.entries ?? []);
          };
        };
      }),
  );
  if (kept[0]) madeWith = kept[0].clientMsgId;
  return kept.map((e) => ({ requestId: e.requestId, decision: e.frame.decision, sent: e.sent }));
}
