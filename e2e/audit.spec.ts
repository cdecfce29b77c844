/**
 * The audit view (CORE-1): the real fields of an audited decision (what, who, how),
 * newest first past 500 entries, "Load older" down to the oldest, the filters, the
 * whole entry on demand. The 501 older entries are seeded through the event store (whose commit writes their audit rows) so the run stays fast.
 */
import type { SequencedEvent } from '../protocol/index.ts';
import { openSqliteStore } from '../server/store/sqliteStore.ts';
import { bash, card, expect, openApp, test } from './support/gatehouse.ts';

test('CORE-1: the audit view shows what, who and how, newest first past 501 entries, older on demand, filtered', async ({ page, gatehouse }) => {
  // 501 entries first, committed as events into the stopped server's database (whose
  // commit derives their audit rows; 1,000 HTTP calls take tens of seconds on a shared
  // machine), then the browser's own decision, then a Write denied over HTTP.
  await gatehouse.server.stop();
  const store = await openSqliteStore({ dataDir: gatehouse.dataDir });
  const head = await store.head();
  const fillers = Array.from({ length: 501 }, (_, i) => `filler-${String(i).padStart(3, '0')}`);
  const at = Date.now() - 3_600_000;
  const seeded = fillers.flatMap((id, i): SequencedEvent[] => [
    {
      type: 'permission-request',
      seq: head + 2 * i + 1,
      id,
      toolName: 'Bash',
      input: { command: `echo ${id}` },
      context: {},
      timestamp: at + i,
      expiresAt: at + i + 60_000,
    },
    { type: 'permission-cancelled', seq: head + 2 * i + 2, requestId: id, reason: 'agent-cancelled', timestamp: at + i + 1 },
  ]);
  await store.writeBatch(seeded.map((event) => ({ kind: 'event' as const, event })));
  await store.close();
  await gatehouse.restart();
  await openApp(page, gatehouse);
  const byBrowser = await gatehouse.createRequest(bash('ls -la /work/project'));
  await card(page, byBrowser).getByRole('button', { name: 'Allow', exact: true }).click();
  expect(await gatehouse.outcome(byBrowser)).toMatchObject({ decision: 'allow' });
  const device = (await gatehouse.server.api('/api/devices')).body.devices[0];
  expect(device?.name).toBeTruthy();
  const newest = await gatehouse.createRequest({ toolName: 'Write', input: { file_path: '/work/project/notes.md', content: 'hello' } });
  const denied = await gatehouse.server.api(`/api/permission-requests/${newest}/decision`, {
    method: 'POST',
    json: { decision: 'deny', message: 'not that file' },
  });
  expect(denied.status, denied.text).toBe(200);

  await page.getByRole('link', { name: 'Audit' }).click();
  const entries = page.getByTestId('audit-entry');
  const first = entries.first();
  await expect(first).toHaveAttribute('data-request-id', newest);
  await expect(first.getByTestId('audit-tool')).toHaveText('Write');
  await expect(first.getByTestId('audit-input')).toHaveText('/work/project/notes.md');
  await expect(first.getByTestId('audit-how')).toHaveText('Denied by a human');
  await expect(first.getByTestId('audit-who')).toContainText('http');
  await expect(first).toContainText('not that file');

  // The browser's own decision, by its device; the whole entry on demand.
  const mine = entries.nth(1);
  await expect(mine).toHaveAttribute('data-request-id', byBrowser);
  await expect(mine.getByTestId('audit-tool')).toHaveText('Bash');
  await expect(mine.getByTestId('audit-input')).toHaveText('ls -la /work/project');
  await expect(mine.getByTestId('audit-how')).toHaveText('Allowed by a human');
  await expect(mine.getByTestId('audit-who')).toContainText(device.name);
  await mine.getByText('Details').click();
  // As fields and the input as the card shows it (CORE-O8: no raw JSON).
  await expect(mine.getByTestId('audit-whole')).toContainText('e2e journey');
  await expect(mine.getByTestId('audit-whole')).toContainText(device.name);

  // Older pages down to the oldest.
  const older = page.getByRole('button', { name: 'Load older' });
  for (let pages = 0; pages < 10 && (await older.isVisible()); pages++) {
    const count = await entries.count();
    await older.click();
    await expect(entries).not.toHaveCount(count);
  }
  await expect(older).toBeHidden();
  await expect(entries).toHaveCount(503);
  await expect(entries.last()).toHaveAttribute('data-request-id', fillers[0]!);
  await expect(entries.last().getByTestId('audit-how')).toHaveText('Cancelled');

  // Filters run on the server: by tool, by how, by device.
  await page.getByLabel('Tool').fill('Write');
  await page.getByLabel('Tool').press('Enter');
  await expect(entries).toHaveCount(1);
  await expect(first).toHaveAttribute('data-request-id', newest);
  await page.getByLabel('Tool').fill('');
  await page.getByLabel('Tool').press('Enter');
  await page.getByLabel('How').selectOption('human');
  await expect(entries).toHaveCount(2);
  await page.getByLabel('Device').selectOption({ label: device.name });
  await expect(entries).toHaveCount(1);
  await expect(first).toHaveAttribute('data-request-id', byBrowser);
});
