/**
 * Answered in the terminal (docs/integrations.md): a request that Claude Code's http hook
 * made is cancelled when Claude Code reports it answered the call itself; the card leaves
 * the queue and the history says where it went.
 */
import { card, expect, historyEntry, openApp, test } from './support/gatehouse.ts';

test("CCH-15: a request answered in the agent's terminal leaves the queue and reads so in history", async ({ page, gatehouse }) => {
  await openApp(page, gatehouse);
  const server = gatehouse.server;
  const hookInput = {
    session_id: 'cch-15-session',
    cwd: '/work/project',
    prompt_id: 'cch-15-prompt',
    hook_event_name: 'PermissionRequest',
    tool_name: 'Bash',
    tool_input: { command: 'make deploy', description: 'deploy' },
  };
  const asking = server.api('/api/hooks/claude?timeout=60', { method: 'POST', json: hookInput, token: server.agentToken });
  // The card shows once the request exists; then its id is the one pending request.
  await expect(page.getByLabel('Command').filter({ hasText: 'make deploy' })).toBeVisible();
  const id = (await server.api('/api/permission-requests?status=pending')).body.requests[0].id as string;
  await expect(card(page, id)).toBeVisible();
  const post = await server.api('/api/hooks/claude', {
    method: 'POST',
    token: server.agentToken,
    json: {
      session_id: 'cch-15-session',
      hook_event_name: 'PostToolUse',
      tool_name: 'Bash',
      tool_input: hookInput.tool_input,
      tool_use_id: 'toolu_1',
      tool_response: {},
    },
  });
  expect(post.body).toEqual({});
  await expect(card(page, id)).toHaveCount(0);
  await expect(historyEntry(page, id)).toContainText("Answered in the agent's terminal (not here)");
  expect((await asking).body).toEqual({});
});
