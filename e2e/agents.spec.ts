/**
 * Every agent in the browser (AGX): which agent asked, on the card and in History; the
 * agent's own choices as buttons that send exactly that choice back; a request the agent
 * says a human must look at (no key allows it, no rule offered); and chat sessions with a
 * real ACP agent (Gemini CLI, `--agent acp:…`) and the real Codex (`--agent codex`), each
 * against its fake model API: a prompt, the permission card inline, Allow, the tool result.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from '@playwright/test';
import { claudeAgentAcp, gemini, runPrompt, type StartedAgent } from '../server/agents/acp/testing/agents.ts';
import { startCodexUnderTest, type CodexUnderTest } from '../server/agents/codex/testing/codexUnderTest.ts';
import { bash, card, expect, historyEntry, openApp, test, type Gatehouse } from './support/gatehouse.ts';

/** A request as an agent bridge makes it (agent token), with the agent's own choices. */
async function createAsAgent(g: Gatehouse, body: { toolName: string; input: Record<string, unknown>; context: Record<string, unknown> }) {
  const res = await g.server.api('/api/permission-requests', { method: 'POST', token: g.server.agentToken ?? null, json: body });
  expect(res.status, res.text).toBe(201);
  return res.body.id as string;
}

const geminiOffer = (command: string) => ({
  toolName: 'Bash',
  input: { command },
  context: {
    agent: 'acp:gemini',
    sessionId: 'g1',
    cwd: '/work/project',
    agentChoices: [
      // The agent's own wording, hidden characters and all: shown visible-safe.
      { id: 'proceed_always', kind: 'allow_always', label: 'Allow for this session\u202e' },
      { id: 'proceed_once', kind: 'allow_once', label: 'Allow' },
      { id: 'cancel', kind: 'reject_once', label: 'Reject' },
    ],
  },
});

test("AGX-12: the agent's own choices are buttons in its wording (visible-safe); the one clicked goes back exactly; the agent shows on the card and in History", async ({
  page,
  gatehouse,
}) => {
  await openApp(page, gatehouse);
  const id = await createAsAgent(gatehouse, geminiOffer('touch /tmp/agx-12'));
  const c = card(page, id);
  await expect(c.getByTestId('agent-badge')).toHaveText(/Gemini/);
  const choices = c.getByTestId('agent-choice');
  await expect(choices).toHaveCount(3);
  await expect(choices.nth(0)).toHaveAttribute('data-choice-kind', 'allow_always');
  // The right-to-left override is shown as a marked escape, never applied.
  await expect(choices.nth(0).getByTestId('hidden-char')).toHaveText('\\u202E');
  await expect(c.getByTestId('agent-choices')).toContainText('kept by the agent, not as a Gatehouse rule');
  await choices.nth(0).click();
  const outcome = await gatehouse.outcome(id);
  expect(outcome).toMatchObject({ status: 'resolved', decision: 'allow', agentChoice: 'proceed_always' });
  await expect(historyEntry(page, id).getByTestId('agent-badge')).toHaveText(/Gemini/);
  await page.getByRole('link', { name: 'Audit' }).click();
  await expect(page.getByTestId('agent-choice-sent').first()).toContainText('allow_always');
  await page.getByRole('link', { name: /Queue/ }).click();

  // A plain Allow carries no choice: the bridge answers the agent's allow_once.
  const plain = await createAsAgent(gatehouse, geminiOffer('touch /tmp/agx-12b'));
  await card(page, plain).getByRole('button', { name: 'Allow', exact: true }).first().click();
  expect((await gatehouse.outcome(plain)).agentChoice).toBeUndefined();

  // A request with no agent came over the plain HTTP API.
  const http = await gatehouse.createRequest({ toolName: 'Bash', input: { command: 'ls' } });
  await expect(card(page, http).getByTestId('agent-badge')).toHaveText(/HTTP/);
});

test('AGX-12: where the agent says a human must look, the card says why, offers no Always allow, and the a key does not allow it', async ({
  page,
  gatehouse,
}) => {
  await openApp(page, gatehouse);
  const id = await createAsAgent(gatehouse, {
    ...bash('rm -rf build'),
    context: {
      agent: 'claude-code-hook',
      sessionId: 's1',
      cwd: '/work/project',
      agentType: 'code-reviewer',
      agentId: 'a-7',
      decisionReason: 'matches the ask rule Bash(rm:*)',
      humanMustLook: 'Claude Code matched an ask rule (Bash(rm:*))',
    },
  });
  const c = card(page, id);
  await expect(c.getByTestId('agent-badge')).toContainText('Claude Code');
  await expect(c.getByTestId('agent-subagent')).toContainText('code-reviewer');
  await expect(c.getByTestId('agent-told')).toContainText('matches the ask rule Bash(rm:*)');
  await expect(c.getByTestId('must-look')).toContainText('No key allows it');
  await expect(c.getByTestId('always-allow')).toHaveCount(0);
  await c.focus();
  await page.keyboard.press('a');
  // Then the same key on an ordinary card: it allows that one. Decisions leave this window in
  // order on one socket, so once the second is decided a decision for the first would have been too.
  const other = await gatehouse.createRequest(bash('ls'));
  await card(page, other).focus();
  await page.keyboard.press('a');
  expect(await gatehouse.outcome(other)).toMatchObject({ decision: 'allow' });
  expect((await gatehouse.server.api(`/api/permission-requests/${id}`)).body.status).toBe('pending');
  await c.getByRole('button', { name: 'Allow', exact: true }).click();
  expect(await gatehouse.outcome(id)).toMatchObject({ decision: 'allow' });
});

async function chatJourney(page: Page, gatehouse: Gatehouse, command: string, agentName: RegExp) {
  await openApp(page, gatehouse, '#/chat');
  await page.getByLabel('Prompt for a new session').fill(runPrompt(command));
  await page.getByRole('button', { name: 'New session' }).click();
  const conversation = page.getByRole('list', { name: 'Messages' });
  const inline = conversation.getByTestId('request-card').first();
  await expect(inline).toBeVisible({ timeout: 45_000 });
  await expect(inline.getByTestId('agent-badge')).toHaveText(agentName);
  await expect(inline).toContainText(command);
  // The agent's own choices are on the card beside Gatehouse's buttons.
  await expect(inline.getByTestId('agent-choice').first()).toBeVisible();
  const requestId = (await inline.getAttribute('data-request-id'))!;
  await inline.getByRole('button', { name: 'Allow', exact: true }).first().click();
  await expect(conversation.locator(`[data-testid="finished-card"][data-request-id="${requestId}"]`)).toContainText('Allowed by you');
  await expect(conversation.locator('.msg-result').first()).toBeVisible({ timeout: 30_000 });
  await expect(conversation.getByText(/^Turn ended/)).toBeVisible({ timeout: 30_000 });
  return requestId;
}

// Both ACP agents of the "done means": Gemini CLI and claude-agent-acp (Claude Code inside).
for (const { agentUnderTest, link, badge } of [
  { agentUnderTest: gemini, link: 'gemini', badge: /ACP:|Gemini/ },
  { agentUnderTest: claudeAgentAcp, link: 'claude-agent-acp', badge: /ACP:/ },
]) {
  test.describe(`AGX-13: an ACP chat with the real ${agentUnderTest.name}`, () => {
    let agent: StartedAgent;
    let root: string;
    let kind = '';
    test.beforeAll(async () => {
      test.setTimeout(240_000);
      agent = await agentUnderTest.start();
      root = mkdtempSync(join(tmpdir(), `gh-e2e-${link}-`));
      mkdirSync(join(root, 'bin'));
      // A short name for the card: the agent is named after its command's basename.
      symlinkSync(agent.command[0]!, join(root, 'bin', link));
      kind = `acp:${[join(root, 'bin', link), ...agent.command.slice(1)].join(' ')}`;
    });
    test.afterAll(async () => {
      await agent?.stop();
      if (root) rmSync(root, { recursive: true, force: true });
    });
    test.use({
      // (Playwright reads a fixture's dependencies from the pattern: it must be there, empty.)
      // biome-ignore lint/correctness/noEmptyPattern: Playwright requires the object pattern
      serverArgs: async ({}, use) => use(['--agent', kind]),
      // biome-ignore lint/correctness/noEmptyPattern: Playwright requires the object pattern
      serverEnv: async ({}, use) => use(agent.env),
    });

    test("AGX-13: a prompt, the permission card with the agent's own choices, Allow, the tool result in the chat", async ({ page, gatehouse }) => {
      test.setTimeout(120_000);
      const marker = join(root, 'ran');
      await chatJourney(page, gatehouse, `touch ${marker}`, badge);
      expect(existsSync(marker)).toBe(true);
    });
  });
}

test.describe('AGX-14: a Codex chat with the real codex app-server', () => {
  let codex: CodexUnderTest;
  let root: string;
  test.beforeAll(async () => {
    test.setTimeout(240_000);
    codex = await startCodexUnderTest();
    root = mkdtempSync(join(tmpdir(), 'gh-e2e-codex-'));
  });
  test.afterAll(async () => {
    await codex?.stop();
    if (root) rmSync(root, { recursive: true, force: true });
  });
  test.use({
    // biome-ignore lint/correctness/noEmptyPattern: Playwright requires the object pattern
    serverArgs: async ({}, use) => use(['--agent', 'codex', '--codex-bin', codex.bin]),
    // biome-ignore lint/correctness/noEmptyPattern: Playwright requires the object pattern
    serverEnv: async ({}, use) => use(codex.env),
  });

  test("AGX-14: a prompt, the permission card with Codex's own choices, Allow, the tool result in the chat", async ({ page, gatehouse }) => {
    test.setTimeout(120_000);
    const marker = join(root, 'ran');
    const requestId = await chatJourney(page, gatehouse, `touch ${marker}`, /Codex/);
    expect(existsSync(marker)).toBe(true);
    const view = await gatehouse.server.api(`/api/permission-requests/${requestId}`);
    expect(view.body.context.agentChoices.map((c: { label: string }) => c.label)).toContain('accept');
  });
});
