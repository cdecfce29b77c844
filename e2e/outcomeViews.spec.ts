/**
 * The Rules and Audit views as readable tables (CORE-O7, CORE-O8): who, what, how and
 * when in columns, newest first, filters, exports, revoke after a confirmation, and no
 * raw JSON on screen. Against a real server, in Chromium.
 */
import { readFileSync } from 'node:fs';
import type { Download, Page } from '@playwright/test';
import { auditEntry, ruleList } from '../protocol/index.ts';
import { bash, card, expect, openApp, test } from './support/gatehouse.ts';

async function downloaded(page: Page, click: () => Promise<void>): Promise<{ name: string; text: string }> {
  const [download] = await Promise.all([page.waitForEvent('download'), click()]);
  const path = await (download as Download).path();
  return { name: download.suggestedFilename(), text: readFileSync(path, 'utf8') };
}

/** A view's text holds no JSON object (`{"…` or `"key": …`). */
async function expectNoRawJson(page: Page, selector: string): Promise<void> {
  const text = (await page.locator(selector).textContent()) ?? '';
  expect(text).not.toMatch(/\{\s*"|"\w+":\s/);
}

test('CORE-O7: the rules view is a readable table, newest first, filtered, exported, and a revoke asks first', async ({ page, gatehouse }) => {
  await openApp(page, gatehouse);
  // An "Always allow" from the card, then two rules made with the API (one with a hidden character).
  const id = await gatehouse.createRequest(bash('cargo build --release'));
  await card(page, id).getByLabel('Always allow scope').selectOption('global');
  await card(page, id).getByRole('button', { name: 'Always allow', exact: true }).click();
  expect(await gatehouse.outcome(id)).toMatchObject({ decision: 'allow' });
  const api = async (body: Record<string, unknown>) => {
    const res = await gatehouse.server.api('/api/rules', { method: 'POST', json: body });
    expect(res.status, res.text).toBe(201);
    return res.body.id as string;
  };
  const prefix = await api({ toolName: 'Bash', pattern: 'npm test', decision: 'allow', scope: 'project', scopeValue: '/work/project' });
  const hidden = await api({ toolName: 'Bash', pattern: 'echo \u202Egnp.exe', match: 'exact', decision: 'deny', scope: 'global' });

  await page.getByRole('link', { name: 'Rules' }).click();
  const rows = page.getByTestId('rule-row');
  await expect(rows).toHaveCount(3);
  // Newest first.
  await expect(rows.nth(0)).toHaveAttribute('data-rule-id', hidden);
  await expect(rows.nth(1)).toHaveAttribute('data-rule-id', prefix);
  const fromCard = rows.nth(2);
  await expect(fromCard.getByTestId('rule-tool')).toHaveText('Bash');
  await expect(fromCard.getByTestId('rule-pattern')).toHaveText('cargo build --release');
  await expect(fromCard).toContainText('exactly this command');
  await expect(fromCard.getByTestId('rule-decision')).toHaveText('Allow');
  await expect(fromCard.getByTestId('rule-scope')).toHaveText('everywhere');
  await expect(fromCard.getByTestId('rule-who')).toContainText(/^client browser-/);
  await expect(fromCard.getByTestId('rule-who')).toContainText(`Always allow on request ${id}`);
  await expect(rows.nth(1)).toContainText('commands starting with');
  await expect(rows.nth(1).getByTestId('rule-scope')).toHaveText('in the project /work/project');
  await expect(rows.nth(1).getByTestId('rule-who')).toContainText('HTTP API');
  await expect(rows.nth(1).getByTestId('rule-who')).toContainText('added with POST /api/rules');
  // The hidden character is an escape, with the warning.
  await expect(rows.nth(0).getByTestId('hidden-char')).toHaveText('\\u202E');
  await expect(rows.nth(0).getByTestId('hidden-warning')).toBeVisible();
  await expectNoRawJson(page, '.rules');

  // The filter box.
  await page.getByLabel('Filter').fill('cargo');
  await expect(rows).toHaveCount(1);
  await expect(rows.first().getByTestId('rule-pattern')).toHaveText('cargo build --release');
  const csv = await downloaded(page, () => page.getByRole('button', { name: 'Export CSV' }).click());
  expect(csv.name).toBe('gatehouse-rules.csv');
  const lines = csv.text.trim().split('\r\n');
  expect(lines[0]).toBe('id,toolName,kind,pattern,decision,scope,scopeValue,createdBy,createdAt,sourceRequestId');
  expect(lines).toHaveLength(2);
  expect(lines[1]).toContain('cargo build --release');
  await page.getByLabel('Filter').fill('');
  await expect(rows).toHaveCount(3);
  const json = await downloaded(page, () => page.getByRole('button', { name: 'Export JSON' }).click());
  expect(ruleList.parse(JSON.parse(json.text)).rules.map((r) => r.id)).toEqual([hidden, prefix, expect.any(String)]);

  // Revoke asks first: "Keep" keeps it, "Yes, revoke" revokes it.
  await rows
    .nth(1)
    .getByRole('button', { name: /^Revoke rule/ })
    .click();
  await rows
    .nth(1)
    .getByRole('button', { name: /^Keep rule/ })
    .click();
  await expect(rows).toHaveCount(3);
  expect((await gatehouse.server.api('/api/rules')).body.rules).toHaveLength(3);
  await rows
    .nth(1)
    .getByRole('button', { name: /^Revoke rule/ })
    .click();
  await rows
    .nth(1)
    .getByRole('button', { name: /^Yes, revoke rule/ })
    .click();
  await expect(rows).toHaveCount(2);
  await expect(page.locator('.rules [role="status"]')).toContainText(`Rule ${prefix} revoked.`);
  const left = ruleList.parse((await gatehouse.server.api('/api/rules')).body).rules.map((r) => r.id);
  expect(left).not.toContain(prefix);
});

test('CORE-O8: the audit view is a readable table of who, what, how and when, newest first, filtered by outcome, agent, tool and text, exported', async ({
  page,
  gatehouse,
}) => {
  await openApp(page, gatehouse);
  const byBrowser = await gatehouse.createRequest(bash('ls -la /work/project'));
  await card(page, byBrowser).getByRole('button', { name: 'Allow', exact: true }).click();
  expect(await gatehouse.outcome(byBrowser)).toMatchObject({ decision: 'allow' });
  const timedOut = await gatehouse.createRequest({ ...bash('sleep 100'), timeoutMs: 100 });
  expect(await gatehouse.outcome(timedOut)).toMatchObject({ status: 'timedOut' });
  const inTerminal = await gatehouse.createRequest({ toolName: 'Read', input: { file_path: '/work/project/README.md' }, context: { agent: 'other-agent' } });
  expect((await gatehouse.server.api(`/api/permission-requests/${inTerminal}?reason=answered-in-terminal`, { method: 'DELETE' })).status).toBe(200);
  const newest = await gatehouse.createRequest({
    toolName: 'Write',
    input: { file_path: '/work/project/notes.md', content: 'hello' },
    context: { agent: 'e2e-agent' },
  });
  const denied = await gatehouse.server.api(`/api/permission-requests/${newest}/decision`, {
    method: 'POST',
    json: { decision: 'deny', message: 'not that file' },
  });
  expect(denied.status, denied.text).toBe(200);

  await page.getByRole('link', { name: 'Audit' }).click();
  const rows = page.getByTestId('audit-entry');
  await expect(rows).toHaveCount(4);
  const order = [newest, inTerminal, timedOut, byBrowser];
  for (const [i, id] of order.entries()) await expect(rows.nth(i)).toHaveAttribute('data-request-id', id);
  const row = (id: string) => page.locator(`[data-testid="audit-entry"][data-request-id="${id}"]`);

  await expect(row(newest).getByTestId('audit-how')).toHaveText('Denied by a human');
  await expect(row(newest).getByTestId('audit-note')).toHaveText('not that file');
  await expect(row(newest).getByTestId('audit-tool')).toHaveText('Write');
  await expect(row(newest).getByTestId('audit-input')).toHaveText('/work/project/notes.md');
  await expect(row(newest).getByTestId('audit-who')).toContainText('HTTP API');
  await expect(row(newest).getByTestId('audit-who')).toContainText('via http');
  await expect(row(inTerminal).getByTestId('audit-how')).toHaveText('Cancelled');
  await expect(row(inTerminal).getByTestId('audit-note')).toHaveText("Answered in the agent's terminal (not here)");
  await expect(row(timedOut).getByTestId('audit-how')).toHaveText('Timed out, denied');
  await expect(row(byBrowser).getByTestId('audit-how')).toHaveText('Allowed by a human');
  const device = (await gatehouse.server.api('/api/devices')).body.devices[0] as { name: string };
  await expect(row(byBrowser).getByTestId('audit-who')).toContainText(`device ${device.name}`);
  await expect(row(byBrowser).getByTestId('audit-who')).toContainText('via ws');
  await row(byBrowser).getByText('Details').click();
  await expect(row(byBrowser).getByTestId('audit-whole')).toContainText('ls -la /work/project');
  await expectNoRawJson(page, '.audit');

  // Filters: the outcome, the agent and the tool on the server; the text in what is loaded.
  await page.getByLabel('Outcome').selectOption({ label: 'Cancelled' });
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toHaveAttribute('data-request-id', inTerminal);
  await page.getByLabel('Outcome').selectOption({ label: 'any' });
  await expect(rows).toHaveCount(4);
  await page.getByLabel('Agent').fill('other-agent');
  await page.getByLabel('Agent').press('Enter');
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toHaveAttribute('data-request-id', inTerminal);
  await page.getByLabel('Agent').fill('');
  await page.getByLabel('Tool').fill('Bash');
  await page.getByLabel('Tool').press('Enter');
  await expect(rows).toHaveCount(2);
  await page.getByLabel('Text').fill('sleep');
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toHaveAttribute('data-request-id', timedOut);
  await page.getByLabel('Text').fill('');
  await page.getByLabel('Tool').fill('');
  await page.getByLabel('Tool').press('Enter');
  await expect(rows).toHaveCount(4);

  // Exports: JSON Lines from the server (each line an audit entry), and CSV made from it.
  const jsonl = await downloaded(page, () => page.getByRole('button', { name: 'Export JSON Lines' }).click());
  const entries = jsonl.text
    .trim()
    .split('\n')
    .map((line) => auditEntry.parse(JSON.parse(line)));
  expect(entries.map((e) => e.requestId)).toEqual([...order].reverse());
  const csv = await downloaded(page, () => page.getByRole('button', { name: 'Export CSV' }).click());
  expect(csv.name).toBe('gatehouse-audit.csv');
  const lines = csv.text.trim().split('\r\n');
  expect(lines[0]).toMatch(/^requestId,requestedAt,decidedAt,status,decision,how,who,/);
  expect(lines).toHaveLength(5);
  expect(csv.text).toContain('not that file');
});
