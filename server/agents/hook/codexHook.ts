/**
 * The Codex CLI command hook (`gatehouse hook --agent codex`, wired by `gatehouse setup
 * codex`), as pure functions: parse Codex's `PermissionRequest` hook input, turn it into
 * a Gatehouse request, and turn an outcome into Codex's stdout (the same shape as Claude
 * Code's PermissionRequest). Codex 0.171 reserves `updatedInput` and `interrupt: true`
 * and fails closed on them, so neither is ever printed: an allow with an edited input
 * becomes a deny saying Codex cannot take edits (docs/integrations.md, "Codex").
 * I/O lives in `server/cli/hook.ts`.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { canonicalJson, describeIssues } from '../../../protocol/index.ts';
import type { AskOutcome, AskSpec } from '../client/ask.ts';
import { denyMessageOf, type HookOutput } from './claudeHook.ts';

export const CODEX_HOOK_AGENT = 'codex-hook';

const codexHookInput = z.looseObject({
  hook_event_name: z.literal('PermissionRequest'),
  session_id: z.string().min(1).max(200),
  turn_id: z.string().max(200).optional(),
  cwd: z.string().max(4096).optional(),
  transcript_path: z.string().nullish(),
  model: z.string().max(200).optional(),
  permission_mode: z.string().max(200).optional(),
  tool_name: z.string().min(1).max(200),
  tool_input: z.record(z.string(), z.unknown()),
});
export type CodexHookInput = z.infer<typeof codexHookInput>;

export function parseCodexHookInput(text: string): { ok: true; value: CodexHookInput } | { ok: false; error: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, error: 'stdin is not JSON' };
  }
  const result = codexHookInput.safeParse(raw);
  return result.success ? { ok: true, value: result.data } : { ok: false, error: describeIssues(result.error) };
}

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

/** Codex's input has no tool use id: like Claude's PermissionRequest (HOOK-2), a hash of
 *  the session id, the turn id and a hash of the tool name and canonical input, so a
 *  retried hook finds its request again. */
export function codexIdempotencyKeyOf(input: CodexHookInput): string {
  const toolHash = sha256(`${input.tool_name}\n${canonicalJson(input.tool_input)}`);
  return `codex-pr-${sha256(`${input.session_id}\n${input.turn_id ?? ''}\n${toolHash}`)}`;
}

export function codexRequestSpecOf(input: CodexHookInput, timeoutMs: number): AskSpec {
  const description = typeof input.tool_input.description === 'string' ? input.tool_input.description.slice(0, 10_000) : undefined;
  const context: Record<string, unknown> = { sessionId: input.session_id, agent: CODEX_HOOK_AGENT, hookEvent: input.hook_event_name };
  if (input.cwd) context.cwd = input.cwd;
  if (input.turn_id) context.turnId = input.turn_id;
  if (input.model) context.model = input.model;
  if (input.permission_mode) context.permissionMode = input.permission_mode;
  if (description) context.description = description;
  return { toolName: input.tool_name, input: input.tool_input, context, timeoutMs, idempotencyKey: codexIdempotencyKeyOf(input) };
}

/** No decision: Codex's own flow decides (its prompt, or `--approve-for-me`'s reviewer). */
export const CODEX_STEP_ASIDE: HookOutput = {};

export const CODEX_EDIT_REFUSED =
  'Gatehouse: the command was allowed with an edited input, and Codex cannot take an edited input from a hook, so it is denied. Ask again with the edited command.';

const deny = (message: string): HookOutput => ({ hookSpecificOutput: { hookEventName: 'PermissionRequest', decision: { behavior: 'deny', message } } });

/** The hook's stdout for an outcome. Never `updatedInput`, never `interrupt`. */
export function codexOutputOf(input: CodexHookInput, outcome: AskOutcome): HookOutput {
  switch (outcome.kind) {
    case 'unavailable':
    case 'gave-up':
      return CODEX_STEP_ASIDE;
    case 'finished':
      if (outcome.status === 'resolved' && outcome.decision === 'allow') {
        if (outcome.updatedInput !== undefined && canonicalJson(outcome.updatedInput) !== canonicalJson(input.tool_input)) return deny(CODEX_EDIT_REFUSED);
        return { hookSpecificOutput: { hookEventName: 'PermissionRequest', decision: { behavior: 'allow' } } };
      }
      // Cancelled by someone else (the request was withdrawn): Codex's own flow decides.
      if (outcome.status === 'cancelled') return CODEX_STEP_ASIDE;
      return deny(denyMessageOf(outcome));
    default: {
      const never: never = outcome;
      return never;
    }
  }
}
