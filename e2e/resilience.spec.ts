/**
 * The server is SIGKILLed and restarted on the same port and data directory while the
 * page stays open: it shows reconnecting, recovers alone, shows what was created
 * meanwhile exactly once, and delivers a decision clicked while it was offline.
 */
import { bash, card, expect, historyEntry, openApp, test } from './support/gatehouse.ts';

test('E2E-9: kill -9 and restart: reconnecting, recovery, no duplicate, offline decision delivered', async ({ page, gatehouse }) => {
  await openApp(page, gatehouse);
  const before = await gatehouse.createRequest(bash('docker compose up -d'));
  await expect(card(page, before)).toBeVisible();

  await gatehouse.kill();
  const status = page.getByTestId('connection-status');
  await expect(status).toContainText(/Reconnecting in \d+ s/);
  await expect(page.getByTestId('latency')).toHaveText(/Latency \d+ ms/);
  // A decision clicked while offline waits in the outbox and says so.
  await card(page, before).getByRole('button', { name: 'Allow', exact: true }).click();
  await expect(card(page, before).getByRole('status')).toContainText('will be sent on reconnect');

  await gatehouse.restart();
  const during = await gatehouse.createRequest(bash('echo created while the page was away'));
  await expect(status).toHaveText(/Connected/, { timeout: 20_000 });

  await expect(card(page, during)).toHaveCount(1);
  expect(await gatehouse.outcome(before)).toMatchObject({ status: 'resolved', decision: 'allow' });
  await expect(historyEntry(page, before)).toContainText('Allowed by you');
  await expect(card(page, before)).toHaveCount(0);
  await expect(page.locator(`[data-request-id="${during}"]`)).toHaveCount(1);
});

test('E2E-10: a decision clicked offline for a request that expired meanwhile is not sent, and the card says so', async ({ page, gatehouse }) => {
  await openApp(page, gatehouse);
  const id = await gatehouse.createRequest({ ...bash('sleep 5'), timeoutMs: 3000 });
  await expect(card(page, id)).toBeVisible();
  await gatehouse.kill();
  await expect(page.getByTestId('connection-status')).toContainText(/Reconnecting|Offline/);
  await card(page, id).getByRole('button', { name: 'Deny', exact: true }).click();
  await expect(card(page, id).getByRole('status')).toContainText('will be sent on reconnect');
  // Wait for the deadline to pass while the server is down (what the page shows, not a sleep).
  await expect(card(page, id).getByTestId('countdown')).toHaveText('timed out, denied');
  await gatehouse.restart();
  await expect(page.getByTestId('connection-status')).toHaveText(/Connected/, { timeout: 20_000 });
  await expect(historyEntry(page, id)).toContainText('Timed out, denied', { timeout: 15_000 });
  await expect(historyEntry(page, id)).toContainText('Your Deny was not sent: the request expired while offline.');
  expect(await gatehouse.outcome(id)).toMatchObject({ status: 'timedOut' });
});
