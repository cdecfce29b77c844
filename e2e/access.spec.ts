/**
 * Reaching the page: the token leaves the address bar; a keyboard-only journey; a
 * phone-sized viewport journey; the page as a device (its calls, its audit, its end).
 */
import { bash, card, expect, historyEntry, openApp, test } from './support/gatehouse.ts';

test('E2E-11: the page opened with ?token= keeps no token in its address', async ({ page, gatehouse }) => {
  await openApp(page, gatehouse);
  expect(page.url()).not.toContain('token=');
  expect(await page.evaluate(() => window.location.href)).not.toContain('token=');
});

test('E2E-12: keyboard only: j/k move, a allows, e edits, d denies, ? opens help', async ({ page, gatehouse }) => {
  await openApp(page, gatehouse);
  const one = await gatehouse.createRequest(bash('echo one'));
  const two = await gatehouse.createRequest(bash('echo two'));
  const three = await gatehouse.createRequest(bash('echo three'));
  await expect(card(page, three)).toBeVisible();
  await page
    .locator('body')
    .click({ position: { x: 1, y: 1 } })
    .catch(() => undefined);

  await page.keyboard.press('?');
  await expect(page.getByRole('dialog', { name: 'Keyboard shortcuts' })).toBeVisible();
  await page.keyboard.press('Escape');
  await expect(page.getByRole('dialog', { name: 'Keyboard shortcuts' })).toBeHidden();

  await page.keyboard.press('j');
  await expect(card(page, two)).toHaveAttribute('aria-current', 'true');
  await page.keyboard.press('k');
  await expect(card(page, one)).toHaveAttribute('aria-current', 'true');
  const first = gatehouse.outcome(one);
  await page.keyboard.press('a');
  expect(await first).toMatchObject({ decision: 'allow' });
  await expect(historyEntry(page, one)).toBeVisible();

  await expect(card(page, two)).toHaveAttribute('aria-current', 'true');
  await page.keyboard.press('e');
  const editor = card(page, two).getByLabel('Edited input (JSON)');
  await expect(editor).toBeFocused();
  await page.keyboard.press('ControlOrMeta+a');
  await page.keyboard.type('{"command":"echo edited"}');
  const second = gatehouse.outcome(two);
  await page.keyboard.press('Control+Enter');
  expect(await second).toMatchObject({ decision: 'allow', updatedInput: { command: 'echo edited' } });

  await expect(card(page, three)).toHaveAttribute('aria-current', 'true');
  // Tab to the selected card's reason field, type, Enter denies with it.
  for (
    let i = 0;
    i < 30 &&
    !(await card(page, three)
      .getByLabel(/^Reason/)
      .evaluate((el) => el === document.activeElement));
    i++
  ) {
    await page.keyboard.press('Tab');
  }
  await expect(card(page, three).getByLabel(/^Reason/)).toBeFocused();
  await page.keyboard.type('keyboard says no');
  const third = gatehouse.outcome(three);
  await page.keyboard.press('Enter');
  expect(await third).toMatchObject({ decision: 'deny', message: 'keyboard says no' });
});

test.describe('phone', () => {
  test.use({ viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true });

  test('E2E-13: at phone width the card fits, its buttons work, and nothing scrolls sideways', async ({ page, gatehouse }) => {
    await openApp(page, gatehouse);
    const id = await gatehouse.createRequest({
      toolName: 'Write',
      input: { file_path: '/work/project/a/very/long/path/to/some/file/that/goes/on/and/on.ts', content: 'export const x = 1;\n'.repeat(5) },
      context: { sessionId: 'phone', cwd: '/work/project' },
    });
    const c = card(page, id);
    await expect(c).toBeVisible();
    // measured once the card shows the rule Always allow would make (its widest line)
    await expect(c.getByTestId('rule-pattern')).toBeVisible();
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(width).toBeLessThanOrEqual(375);
    const outcome = gatehouse.outcome(id);
    await c.getByRole('button', { name: 'Allow', exact: true }).tap();
    expect(await outcome).toMatchObject({ decision: 'allow' });
  });
});

test('AUTH-5 AUTH-6 AUTH-9: the page is a device: its calls carry X-Gatehouse-Client, its decisions are audited with it, and ending it disconnects the page', async ({
  page,
  gatehouse,
}) => {
  await openApp(page, gatehouse);
  const id = await gatehouse.createRequest(bash('echo device'));
  const outcome = gatehouse.outcome(id);
  await card(page, id).getByRole('button', { name: 'Allow', exact: true }).click();
  expect(await outcome).toMatchObject({ decision: 'allow' });

  const devices = (await gatehouse.server.api('/api/devices')).body.devices as { id: string; name: string }[];
  expect(devices).toHaveLength(1);
  const auditCall = page.waitForRequest((r) => new URL(r.url()).pathname === '/api/audit');
  await page.goto(`${gatehouse.server.baseUrl}/#/audit`);
  expect(await (await auditCall).headerValue('x-gatehouse-client')).toBe('web');
  const entry = page.getByTestId('audit-entry').filter({ hasText: 'Bash' }).first();
  await expect(entry).toBeVisible();
  await entry.getByText('Details').click();
  await expect(entry.getByTestId('audit-whole')).toContainText(devices[0]!.id);
  await expect(entry.getByTestId('audit-whole')).toContainText(devices[0]!.name);

  await page.goto(`${gatehouse.server.baseUrl}/`);
  await expect(page.getByTestId('connection-status')).toHaveText(/Connected/);
  expect((await gatehouse.server.api(`/api/devices/${devices[0]?.id}`, { method: 'DELETE' })).status).toBe(200);
  await expect(page.getByTestId('connection-status')).not.toHaveText(/^Connected/);
  // It stays out: the cookie opens nothing any more.
  await page.goto(`${gatehouse.server.baseUrl}/#/audit`);
  await expect(page.getByTestId('not-authorised')).toContainText('Not authorised'); // UI-33
});
