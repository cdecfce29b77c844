/**
 * `bin/gatehouse acp -- gemini --acp` with the real Gemini CLI (pinned, installed into the
 * agent cache on first use), offline against a fake Gemini API.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { installAgent } from '../testing/agentInstall.ts';
import { lastParts, startFakeGeminiApi } from '../testing/fakeGeminiApi.ts';
import { acpProxySuite, commandOfPrompt } from './testing/acpProxySuite.ts';

acpProxySuite({
  name: 'gemini',
  async start() {
    const { bin } = await installAgent('gemini');
    const api = await startFakeGeminiApi((request) => {
      const parts = lastParts(request);
      if (parts.some((part) => part.functionResponse)) return [{ text: 'FAKE: command finished, done.' }];
      const command = parts.map((part) => (part.text ? commandOfPrompt(part.text) : undefined)).find(Boolean);
      if (!command) return [{ text: 'Hello.' }];
      return [{ functionCall: { name: 'run_shell_command', args: { command, description: 'acp proxy test' } } }];
    });
    const home = mkdtempSync(join(tmpdir(), 'gh-gemini-home-'));
    return {
      command: [bin, '--acp', '-m', 'gemini-2.5-flash'],
      env: { HOME: home, GEMINI_API_KEY: 'fake', GOOGLE_GEMINI_BASE_URL: api.url },
      async stop() {
        await api.close();
        rmSync(home, { recursive: true, force: true });
      },
    };
  },
});
