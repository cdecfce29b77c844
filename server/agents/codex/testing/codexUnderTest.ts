/**
 * The real Codex CLI 0.171 under test, offline: installed from the agent cache
 * (agentInstall.ts), an isolated `CODEX_HOME` whose config.toml points at the fake
 * Responses API (fakeResponsesApi.ts) with analytics and otel off, `FAKE_API_KEY=fake`.
 * The fake model runs whatever follows `RUN: ` in the prompt as one escalated
 * `exec_command` (so Codex asks under `on-request`), and ends the turn with a text once
 * the call's output is in its input; `PATCH: FILE` makes it add FILE with `apply_patch`.
 * `/tmp` is not a writable root (so a patch outside the session folder asks).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { installAgent } from '../../testing/agentInstall.ts';
import {
  assistantMessage,
  functionCall,
  functionOutputs,
  startFakeResponsesApi,
  userText,
  type FakeResponsesApi,
  type ResponsesRequest,
} from '../../testing/fakeResponsesApi.ts';

export const runPrompt = (command: string) => `RUN: ${command}`;
export const patchPrompt = (file: string) => `PATCH: ${file}`;
export const FINAL_TEXT = 'FAKE: command finished, done.';
export const JUSTIFICATION = 'test: please approve this command';

export type CodexUnderTest = { bin: string; home: string; api: FakeResponsesApi; env: Record<string, string | undefined>; stop(): Promise<void> };

/** The last user prompt's instruction (a later turn's prompt follows the earlier ones). */
function lastInstruction(request: ResponsesRequest): { run?: string; patch?: string } {
  const lines = userText(request).split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const run = /^RUN: (.+)$/.exec(lines[i]!)?.[1];
    if (run !== undefined) return { run };
    const patch = /^PATCH: (.+)$/.exec(lines[i]!)?.[1];
    if (patch !== undefined) return { patch };
  }
  return {};
}

let calls = 0;
export function codexScript(request: ResponsesRequest) {
  const input = request.body.input ?? [];
  // A call already answered in this turn (its output is the last item): end the turn.
  const last = input[input.length - 1];
  if (last && functionOutputs({ ...request, body: { input: [last] } }).length > 0) return [assistantMessage(FINAL_TEXT)];
  const { run, patch } = lastInstruction(request);
  const callId = `call_${++calls}`;
  if (run) return [functionCall(callId, 'exec_command', { cmd: run, sandbox_permissions: 'require_escalated', justification: JUSTIFICATION })];
  if (patch) {
    const hasApplyPatch = (request.body.tools ?? []).some((tool) => tool.name === 'apply_patch');
    if (hasApplyPatch)
      return [
        {
          type: 'custom_tool_call',
          id: `ctc_${callId}`,
          call_id: callId,
          name: 'apply_patch',
          input: `*** Begin Patch\n*** Add File: ${patch}\n+hello from codex\n*** End Patch\n`,
        },
      ];
    return [
      functionCall(callId, 'exec_command', {
        cmd: `apply_patch <<'EOF'\n*** Begin Patch\n*** Add File: ${patch}\n+hello from codex\n*** End Patch\nEOF`,
        sandbox_permissions: 'require_escalated',
        justification: JUSTIFICATION,
      }),
    ];
  }
  return [assistantMessage('Hello.')];
}

export async function startCodexUnderTest(): Promise<CodexUnderTest> {
  const { bin } = await installAgent('codex');
  const api = await startFakeResponsesApi(codexScript);
  const home = mkdtempSync(join(tmpdir(), 'gh-codex-home-'));
  writeFileSync(
    join(home, 'config.toml'),
    `model = "fake-model"
model_provider = "fake"
approval_policy = "on-request"
sandbox_mode = "workspace-write"
[sandbox_workspace_write]
exclude_slash_tmp = true
exclude_tmpdir_env_var = true
[model_providers.fake]
name = "fake"
base_url = "${api.url}"
wire_api = "responses"
env_key = "FAKE_API_KEY"
request_max_retries = 0
stream_max_retries = 0
[analytics]
enabled = false
[otel]
exporter = "none"
`,
  );
  return {
    bin,
    home,
    api,
    env: { CODEX_HOME: home, FAKE_API_KEY: 'fake', OPENAI_API_KEY: undefined, RUST_LOG: 'error' },
    async stop() {
      await api.close();
      rmSync(home, { recursive: true, force: true });
    },
  };
}
