/**
 * Chat Stop and a dead turn, with the demo agent in Chromium against a real server: Stop
 * interrupts the running turn (its waiting card is cancelled, the conversation says it
 * was stopped, the button goes), and after kill -9 mid-turn and a restart the session
 * says its agent stopped with the server instead of looking alive.
 */
import type { Page } from '@playwright/test';
import { expect, openApp, test } from './support/gatehouse.ts';

async function startSession(page: Page, prompt: string) {
  await page.getByLabel('Prompt for a new session').fill(prompt);
  await page.getByRole('button', { name: 'New session' }).click();
  await expect(page).toHaveURL(/#\/chat\/.+/);
  const conversation = page.getByRole('list', { name: 'Messages' });
  // The demo agent's first tool call waits for the human.
  await expect(conversation.getByTestId('request-card').first()).toBeVisible({ timeout: 20_000 });
  return conversation;
}

test('HUM-7: Stop interrupts the running turn: its waiting request is cancelled and the conversation says so', async ({ page, gatehouse }) => {
  await openApp(page, gatehouse, '#/chat');
  const conversation = await startSession(page, 'stop me');
  const requestId = (await conversation.getByTestId('request-card').first().getAttribute('data-request-id'))!;
  const stop = page.getByRole('button', { name: 'Stop', exact: true });
  await expect(stop).toBeVisible();
  await stop.click();
  expect(await gatehouse.outcome(requestId)).toMatchObject({ status: 'cancelled' });
  await expect(conversation).toContainText('Stopped: you interrupted this turn');
  await expect(conversation.getByTestId('request-card')).toHaveCount(0);
  await expect(stop).toHaveCount(0); // the session is idle again
  await expect(page.locator('.conversation .muted.small').first()).toContainText('idle');
});

test('HUM-8: after kill -9 mid-turn and a restart, the session says its agent stopped instead of looking alive', async ({ page, gatehouse }) => {
  await openApp(page, gatehouse, '#/chat');
  await startSession(page, 'die with the server');
  await expect(page.getByRole('button', { name: 'Stop', exact: true })).toBeVisible();
  await gatehouse.kill();
  await gatehouse.restart();
  await page.reload();
  await expect(page.getByTestId('connection-status')).toHaveText(/Connected/, { timeout: 20_000 });
  const conversation = page.getByRole('list', { name: 'Messages' });
  await expect(conversation).toContainText('The agent stopped when the Gatehouse server stopped');
  await expect(conversation.getByText(/^Turn ended/).last()).toContainText('Interrupted by a server restart');
  await expect(page.getByRole('button', { name: 'Stop', exact: true })).toHaveCount(0);
  await expect(page.locator('.conversation .muted.small').first()).toContainText('idle');
});
