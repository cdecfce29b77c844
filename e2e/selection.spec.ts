/**
 * The finished queue: the keyboard selection after a decision and when cards arrive,
 * the agent filter, and the "Not authorised" / "Server unreachable" screens.
 */
import { bash, card, expect, historyEntry, openApp, test } from './support/gatehouse.ts';

test('UI-30: after `a` decides the selected second of three cards, the selection moves to the third, not the first', async ({ page, gatehouse }) => {
  await openApp(page, gatehouse);
  const ids = [
    await gatehouse.createRequest(bash('echo one')),
    await gatehouse.createRequest(bash('echo two')),
    await gatehouse.createRequest(bash('echo three')),
  ];
  for (const id of ids) await expect(card(page, id)).toBeVisible();
  await expect(card(page, ids[0]!)).toHaveAttribute('aria-current', 'true');
  await page.locator('body').press('j');
  await expect(card(page, ids[1]!)).toHaveAttribute('aria-current', 'true');
  const outcome = gatehouse.outcome(ids[1]!);
  await page.keyboard.press('a');
  expect(await outcome).toMatchObject({ decision: 'allow' });
  await expect(historyEntry(page, ids[1]!)).toBeVisible();
  await expect(card(page, ids[2]!)).toHaveAttribute('aria-current', 'true');
  await expect(card(page, ids[0]!)).not.toHaveAttribute('aria-current', 'true');
});

test('UI-31: a card that arrives never takes the selection; the next `a` decides the card that was shown selected', async ({ page, gatehouse }) => {
  await openApp(page, gatehouse);
  const first = await gatehouse.createRequest(bash('echo first'));
  const second = await gatehouse.createRequest(bash('echo second'));
  await expect(card(page, second)).toBeVisible();
  await expect(card(page, first)).toHaveAttribute('aria-current', 'true');
  const firstOutcome = gatehouse.outcome(first);
  await page.keyboard.press('a');
  expect(await firstOutcome).toMatchObject({ decision: 'allow' });
  await expect(card(page, second)).toHaveAttribute('aria-current', 'true');
  const arrived = await gatehouse.createRequest(bash('echo arrived meanwhile'));
  await expect(card(page, arrived)).toBeVisible();
  await expect(card(page, arrived)).not.toHaveAttribute('aria-current', 'true');
  const secondOutcome = gatehouse.outcome(second);
  await page.keyboard.press('a');
  expect(await secondOutcome).toMatchObject({ decision: 'allow' });
  // The newcomer is selected now (the only card left), but nothing decided it.
  await expect(card(page, arrived)).toHaveAttribute('aria-current', 'true');
  const state = await gatehouse.server.api(`/api/permission-requests/${arrived}`);
  expect(state.body.status).toBe('pending');
  // A held-down `a` repeats: the repeat must not decide the card the selection moved to.
  const last = await gatehouse.createRequest(bash('echo last'));
  await expect(card(page, last)).toBeVisible();
  const arrivedOutcome = gatehouse.outcome(arrived);
  await page.keyboard.down('a');
  await expect(card(page, last)).toHaveAttribute('aria-current', 'true');
  await page.keyboard.down('a'); // a repeat: the key was never released
  await page.keyboard.up('a');
  expect(await arrivedOutcome).toMatchObject({ decision: 'allow' });
  await expect(historyEntry(page, arrived)).toBeVisible();
  expect((await gatehouse.server.api(`/api/permission-requests/${last}`)).body.status).toBe('pending');
  await expect(card(page, last)).toBeVisible();
});

test('UI-32: the agent filter lists the agents of the waiting requests and shows only the chosen one', async ({ page, gatehouse }) => {
  await openApp(page, gatehouse);
  const claude = await gatehouse.createRequest(bash('echo from claude', { context: { sessionId: 's1', agent: 'claude' } }));
  const codex = await gatehouse.createRequest(bash('echo from codex', { context: { sessionId: 's2', agent: 'codex' } }));
  await expect(card(page, codex)).toBeVisible();
  const filter = page.getByTestId('agent-filter');
  await expect(filter.locator('option')).toHaveText(['all agents', 'claude', 'codex']);
  await filter.selectOption('codex');
  await expect(card(page, claude)).toHaveCount(0);
  await expect(card(page, codex)).toHaveAttribute('aria-current', 'true');
  // The keys follow the filter: `a` decides the codex card, not the older claude one.
  const outcome = gatehouse.outcome(codex);
  await page.locator('body').press('a');
  expect(await outcome).toMatchObject({ decision: 'allow' });
  await filter.selectOption('');
  await expect(card(page, claude)).toBeVisible();
  expect((await gatehouse.server.api(`/api/permission-requests/${claude}`)).body.status).toBe('pending');
});

test('UI-33: a page opened without the token shows the Not authorised screen, not an empty queue', async ({ page, gatehouse }) => {
  await page.goto(`${gatehouse.server.baseUrl}/`);
  await expect(page.getByTestId('not-authorised')).toContainText('Not authorised: open the link the server printed (or pair this device)');
  await expect(page.getByText('No requests waiting')).toHaveCount(0);
});

test('UI-33: a device ended over DELETE /api/devices/ID switches its open page to Not authorised', async ({ page, gatehouse }) => {
  await openApp(page, gatehouse);
  const devices = (await gatehouse.server.api('/api/devices')).body.devices as { id: string }[];
  expect(devices).toHaveLength(1);
  expect((await gatehouse.server.api(`/api/devices/${devices[0]?.id}`, { method: 'DELETE' })).status).toBe(200);
  await expect(page.getByTestId('not-authorised')).toBeVisible();
});

test('UI-34: a killed server shows Server unreachable; Retry after it is back reconnects', async ({ page, gatehouse }) => {
  // The page's timers on Playwright's clock (flowing as usual until paused), so that its
  // own back-off cannot reconnect first and take the Retry button away under the click.
  await page.clock.install();
  await openApp(page, gatehouse);
  await gatehouse.kill();
  await expect(page.getByTestId('server-unreachable')).toContainText('Server unreachable');
  // Paused a little ahead of the page's own time (never behind it, however slow this call).
  await page.clock.pauseAt(await page.evaluate(() => Date.now() + 5_000));
  await gatehouse.restart();
  await page.getByTestId('server-unreachable').getByRole('button', { name: 'Retry' }).click();
  await expect(page.getByTestId('connection-status')).toHaveText(/Connected/);
  await expect(page.getByTestId('server-unreachable')).toHaveCount(0);
});
