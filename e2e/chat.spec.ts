/**
 * Chat with the demo agent: a prompt, the agent's permission request inline in the
 * conversation (the same card as the queue), Allow, the tool result, the final answer.
 * Then the rules view: revoke a rule, and the next matching request asks again.
 */
import { bash, card, expect, openApp, test } from './support/gatehouse.ts';

test('E2E-14: chat with the demo agent: prompt, inline requests, Allow, tool results, final answer', async ({ page, gatehouse }) => {
  await openApp(page, gatehouse, '#/chat');
  await page.getByLabel('Prompt for a new session').fill('List the files in the project folder');
  await page.getByRole('button', { name: 'New session' }).click();
  await expect(page).toHaveURL(/#\/chat\/.+/);
  const conversation = page.getByRole('list', { name: 'Messages' });
  await expect(conversation).toContainText('List the files in the project folder');
  // The demo agent proposes a few tool calls, one at a time; each asks permission inline.
  const allowed: string[] = [];
  for (let i = 0; i < 6; i++) {
    const waiting = conversation.getByTestId('request-card');
    const ended = conversation.getByText(/^Turn ended/);
    await expect(waiting.or(ended).first()).toBeVisible({ timeout: 20_000 });
    if (await ended.isVisible()) break;
    const inline = waiting.first();
    const requestId = (await inline.getAttribute('data-request-id'))!;
    await inline.getByRole('button', { name: 'Allow', exact: true }).click();
    await expect(conversation.locator(`[data-testid="finished-card"][data-request-id="${requestId}"]`)).toContainText('Allowed by you');
    allowed.push(requestId);
  }
  expect(allowed.length).toBeGreaterThan(0);
  await expect(conversation.locator('.msg-result').first()).toBeVisible();
  await expect(conversation.getByText(/^Turn ended/)).toBeVisible({ timeout: 20_000 });
  await expect(conversation.locator('.msg-assistant').last()).toBeVisible();
  // The same request, the same state, in the queue view's history.
  await page.getByRole('link', { name: /Queue/ }).click();
  await expect(page.locator(`[data-testid="history-entry"][data-request-id="${allowed[0]}"]`)).toContainText('Allowed by you');
});

test('E2E-15: revoking a rule in the rules view makes the next matching request ask again', async ({ page, gatehouse }) => {
  await openApp(page, gatehouse);
  const first = await gatehouse.createRequest(bash('cargo build'));
  await card(page, first).getByLabel('Always allow scope').selectOption('global');
  await card(page, first).getByRole('button', { name: 'Always allow', exact: true }).click();
  expect(await gatehouse.outcome(first)).toMatchObject({ decision: 'allow' });

  await page.getByRole('link', { name: 'Rules' }).click();
  const row = page.getByTestId('rule-row');
  await expect(row).toHaveCount(1);
  await row.getByRole('button', { name: /Revoke rule/ }).click();
  // The view asks first (CORE-O7).
  await row.getByRole('button', { name: /Yes, revoke rule/ }).click();
  await expect(row).toHaveCount(0);

  await page.getByRole('link', { name: /Queue/ }).click();
  const second = await gatehouse.createRequest(bash('cargo build'));
  await expect(card(page, second)).toBeVisible();
  expect((await gatehouse.server.api(`/api/permission-requests/${second}`)).body.status).toBe('pending');
});

test('E2E-16: the audit view lists what happened', async ({ page, gatehouse }) => {
  await openApp(page, gatehouse);
  const id = await gatehouse.createRequest(bash('ls'));
  await card(page, id).getByRole('button', { name: 'Allow', exact: true }).click();
  expect(await gatehouse.outcome(id)).toMatchObject({ decision: 'allow' });
  await page.getByRole('link', { name: 'Audit' }).click();
  await expect(page.getByRole('heading', { name: 'Audit log' })).toBeVisible();
  await expect(page.locator(`[data-testid="audit-entry"][data-request-id="${id}"]`)).toBeVisible();
});
