/**
 * The real ACP agents under test, each with its fake model: installed from the agent
 * cache (agentInstall.ts), offline. The fake model runs whatever follows `RUN: ` in the
 * prompt as one shell call (after a short text), then ends the turn with a text in two
 * chunks once it has the call's result.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { installAgent } from '../../testing/agentInstall.ts';
import { lastParts, startFakeGeminiApi } from '../../testing/fakeGeminiApi.ts';
import { blockText, pendingToolResults, startFakeMessagesApi } from '../../testing/fakeMessagesApi.ts';

export type StartedAgent = { command: string[]; env: Record<string, string | undefined>; stop(): Promise<void> };
export type AgentUnderTest = {
  /** The agent's executable name: the proxy reports `acp:<name>`. */
  name: string;
  /** Install the agent, start its fake model; give the real command and its environment. */
  start(): Promise<StartedAgent>;
};

/** The prompt that makes the fake models run `command`. */
export const runPrompt = (command: string) => `RUN: ${command}`;
/** The command a prompt asks for (the fake models' side of `runPrompt`). */
export function commandOfPrompt(text: string): string | undefined {
  return /RUN: ([^\n]+)/.exec(text)?.[1];
}
export const FIRST_TEXT = 'I will run it.';
export const FINAL_TEXT = ['FAKE: ', 'command finished.'];

export const gemini: AgentUnderTest = {
  name: 'gemini',
  async start() {
    const { bin } = await installAgent('gemini');
    const api = await startFakeGeminiApi((request) => {
      const parts = lastParts(request);
      if (parts.some((part) => part.functionResponse)) return FINAL_TEXT.map((text) => ({ text }));
      const command = parts.map((part) => (part.text ? commandOfPrompt(part.text) : undefined)).find(Boolean);
      if (!command) return [{ text: 'Hello.' }];
      return [{ text: FIRST_TEXT }, { functionCall: { name: 'run_shell_command', args: { command, description: 'acp test' } } }];
    });
    const home = mkdtempSync(join(tmpdir(), 'gh-gemini-home-'));
    return {
      command: [bin, '--acp', '-m', 'gemini-2.5-flash'],
      env: { HOME: home, GEMINI_API_KEY: 'fake', GOOGLE_GEMINI_BASE_URL: api.url },
      async stop() {
        await api.close();
        removeHome(home);
      },
    };
  },
};

/** claude-agent-acp (Claude Code 2.1.83 inside). `IS_SANDBOX` is unset: as root it makes
 *  the adapter pass a flag that Claude Code refuses (docs/testing.md). */
export const claudeAgentAcp: AgentUnderTest = {
  name: 'claude-agent-acp',
  async start() {
    const { bin } = await installAgent('claudeAcp');
    const api = await startFakeMessagesApi((request) => {
      const messages = request.body.messages ?? [];
      const last = messages[messages.length - 1];
      if (!Array.isArray(request.body.tools) || request.body.tools.length === 0 || !last || last.role !== 'user')
        return { content: [{ type: 'text', text: 'Hello.' }] };
      if (pendingToolResults(request).length > 0) return { content: [{ type: 'text', text: FINAL_TEXT.join('') }], stopReason: 'end_turn' };
      const text =
        typeof last.content === 'string'
          ? last.content
          : last.content.map((block) => (block.type === 'text' ? (block.text ?? '') : blockText(block.content))).join('\n');
      const command = commandOfPrompt(text);
      if (!command) return { content: [{ type: 'text', text: 'Hello.' }] };
      return {
        content: [
          { type: 'text', text: FIRST_TEXT },
          { type: 'tool_use', name: 'Bash', input: { command, description: 'acp test' } },
        ],
        stopReason: 'tool_use',
      };
    });
    const home = mkdtempSync(join(tmpdir(), 'gh-claude-acp-home-'));
    return {
      command: [bin],
      env: {
        IS_SANDBOX: undefined,
        HOME: home,
        ANTHROPIC_BASE_URL: api.url,
        ANTHROPIC_API_KEY: 'fake',
        DISABLE_AUTOUPDATER: '1',
        DISABLE_TELEMETRY: '1',
        DISABLE_ERROR_REPORTING: '1',
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      },
      async stop() {
        await api.close();
        removeHome(home);
      },
    };
  },
};

/** The agent's HOME, removed after the server stopped: its stop returns once the agent's
 *  whole process group exited (server/agents/endProcess.ts; the Gemini CLI's relaunched
 *  child and Claude Code inside claude-agent-acp write their last files as they exit).
 *  The retries are for a process that left the group (none of these agents does). */
function removeHome(home: string): void {
  rmSync(home, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
}
