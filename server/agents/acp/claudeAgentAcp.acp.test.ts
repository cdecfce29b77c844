/**
 * `bin/gatehouse acp -- claude-agent-acp` with the real claude-agent-acp (Claude Code
 * 2.1.83 inside; pinned, installed into the agent cache on first use), offline against
 * the fake Anthropic Messages API. `IS_SANDBOX` is unset: as root it makes the adapter
 * pass a flag that Claude Code refuses (docs/testing.md).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { installAgent } from '../testing/agentInstall.ts';
import { blockText, pendingToolResults, startFakeMessagesApi } from '../testing/fakeMessagesApi.ts';
import { acpProxySuite, commandOfPrompt } from './testing/acpProxySuite.ts';

acpProxySuite({
  name: 'claude-agent-acp',
  async start() {
    const { bin } = await installAgent('claudeAcp');
    const api = await startFakeMessagesApi((request) => {
      const messages = request.body.messages ?? [];
      const last = messages[messages.length - 1];
      if (!Array.isArray(request.body.tools) || request.body.tools.length === 0 || !last || last.role !== 'user') return { content: [{ type: 'text', text: 'Hello.' }] };
      if (pendingToolResults(request).length > 0) return { content: [{ type: 'text', text: 'FAKE: command finished, done.' }], stopReason: 'end_turn' };
      const text = typeof last.content === 'string' ? last.content : last.content.map((block) => (block.type === 'text' ? (block.text ?? '') : blockText(block.content))).join('\n');
      const command = commandOfPrompt(text);
      if (!command) return { content: [{ type: 'text', text: 'Hello.' }] };
      return { content: [{ type: 'tool_use', name: 'Bash', input: { command, description: 'acp proxy test' } }], stopReason: 'tool_use' };
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
        rmSync(home, { recursive: true, force: true });
      },
    };
  },
});
