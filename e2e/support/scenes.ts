/**
 * Each view of the app in a state worth looking at, for the accessibility checks
 * (accessibility.spec.ts) and the screenshots (screenshots.spec.ts): a queue with a
 * command, a diff and some history; a chat with a request inline; a remembered rule; the
 * audit log; the keyboard help. Each function leaves the page on its view, ready.
 */
import type { Page } from '@playwright/test';
import { bash, card, expect, historyEntry, openApp, type Gatehouse } from './gatehouse.ts';

export const LONG_COMMAND =
  'find /work/project/packages/server/src/very/deeply/nested/folder -name "*.generated.ts" -newer /work/project/package.json -exec rm -v {} + && git -C /work/project status --porcelain=v2 --untracked-files=all';

export async function queueScene(page: Page, g: Gatehouse): Promise<{ command: string; edit: string }> {
  await openApp(page, g);
  const done = await g.createRequest(bash('npm test'));
  await card(page, done).getByRole('button', { name: 'Allow', exact: true }).click();
  await expect(historyEntry(page, done)).toBeVisible();
  const command = await g.createRequest(bash(LONG_COMMAND));
  const edit = await g.createRequest({
    toolName: 'Edit',
    input: {
      file_path: '/work/project/src/server.ts',
      old_string: "const port = 3000;\nconst host = 'localhost';\nstart(port, host);",
      new_string: "const port = Number(process.env.PORT ?? 3000);\nconst host = 'localhost';\nstart(port, host);",
    },
    context: { sessionId: 'e2e-session', cwd: '/work/project', agent: 'e2e-agent' },
  });
  await expect(card(page, command)).toBeVisible();
  await expect(card(page, edit)).toBeVisible();
  return { command, edit };
}

/** A demo-agent session whose first tool call waits inline. Returns its request id. */
export async function chatScene(page: Page, g: Gatehouse): Promise<string> {
  await openApp(page, g, '#/chat');
  await page.getByLabel('Prompt for a new session').fill('List the files in the project folder');
  await page.getByRole('button', { name: 'New session' }).click();
  await expect(page).toHaveURL(/#\/chat\/.+/);
  const inline = page.locator('.conversation [data-testid="request-card"]').first();
  await expect(inline).toBeVisible({ timeout: 20_000 });
  return (await inline.getAttribute('data-request-id'))!;
}

export async function rulesScene(page: Page, g: Gatehouse): Promise<void> {
  await openApp(page, g);
  const id = await g.createRequest(bash('cargo build --release'));
  await card(page, id).getByLabel('Always allow scope').selectOption('global');
  await card(page, id).getByRole('button', { name: 'Always allow', exact: true }).click();
  expect(await g.outcome(id)).toMatchObject({ decision: 'allow' });
  await page.getByRole('link', { name: 'Rules' }).click();
  await expect(page.getByRole('button', { name: /Revoke/ }).first()).toBeVisible();
}

export async function auditScene(page: Page, g: Gatehouse): Promise<void> {
  await openApp(page, g);
  const allowed = await g.createRequest(bash('ls -la'));
  await card(page, allowed).getByRole('button', { name: 'Allow', exact: true }).click();
  const denied = await g.createRequest(bash('rm -rf /tmp/cache'));
  await card(page, denied)
    .getByLabel(/^Reason/)
    .fill('not now');
  await card(page, denied).getByRole('button', { name: 'Deny', exact: true }).click();
  expect(await g.outcome(denied)).toMatchObject({ decision: 'deny' });
  await page.getByRole('link', { name: 'Audit' }).click();
  await expect(page.locator('main')).toContainText(/denied/i);
}

export async function helpScene(page: Page, g: Gatehouse): Promise<void> {
  await queueScene(page, g);
  await page.getByRole('button', { name: 'Help' }).click();
  await expect(page.getByRole('dialog', { name: 'Keyboard shortcuts' })).toBeVisible();
}

/** The Devices view with this device listed and a pairing link's QR code shown. */
export async function devicesScene(page: Page, g: Gatehouse): Promise<void> {
  await openApp(page, g, '#/devices');
  await expect(page.getByTestId('device')).toHaveCount(1);
  await page.getByRole('button', { name: 'Pair a device' }).click();
  await expect(page.getByTestId('pairing-qr')).toBeVisible();
}
