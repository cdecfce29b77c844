/**
 * The Claude Code command hook, as pure functions: parse the hook's stdin
 * (`PermissionRequest` or `PreToolUse`), turn it into a Gatehouse request (idempotency
 * key, context), and turn an outcome into the exact stdout shape of the event
 * (claude-code-offline.md, "The surfaces", 2). I/O lives in `server/cli/hook.ts`.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { canonicalJson, describeIssues, outcomeMessageForAgent } from '../../../protocol/index.ts';
import type { AskOutcome, AskSpec } from '../client/ask.ts';
import { toldContextOf } from './told.ts';

export const HOOK_AGENT = 'claude-code-hook';
/** Where Claude Code's http hook (and `gatehouse hook` for after-events) posts. */
export const CLAUDE_HOOK_PATH = '/api/hooks/claude';
export const HOOK_EVENTS = ['PermissionRequest', 'PreToolUse'] as const;
export type HookEvent = (typeof HOOK_EVENTS)[number];

const hookInput = z.looseObject({
  hook_event_name: z.enum(HOOK_EVENTS),
  session_id: z.string().min(1).max(200),
  cwd: z.string().max(4096).optional(),
  transcript_path: z.string().optional(),
  permission_mode: z.string().optional(),
  prompt_id: z.string().max(200).optional(),
  tool_name: z.string().min(1).max(200),
  tool_input: z.record(z.string(), z.unknown()),
  tool_use_id: z.string().min(1).max(200).optional(),
  permission_suggestions: z.array(z.unknown()).optional(),
});
export type HookInput = z.infer<typeof hookInput>;

export type ParsedHookInput = { ok: true; value: HookInput } | { ok: false; error: string; event?: HookEvent | undefined };

/** Parses stdin; on failure still reports which event it was, when that much is readable,
 *  so the hook can step aside in the right shape. */
export function parseHookInput(text: string): ParsedHookInput {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, error: 'stdin is not JSON' };
  }
  return parseHookValue(raw);
}

/** The same for an already-parsed body (`POST /api/hooks/claude`). */
export function parseHookValue(raw: unknown): ParsedHookInput {
  const result = hookInput.safeParse(raw);
  if (result.success) return { ok: true, value: result.data };
  const name = (raw as { hook_event_name?: unknown } | null)?.hook_event_name;
  const event = HOOK_EVENTS.find((candidate) => candidate === name);
  return { ok: false, error: describeIssues(result.error), event };
}

/**
 * "Answered elsewhere" (contract-2 §2): events Claude Code sends after the human answered
 * its own dialog (the tool ran, failed or was denied) or the turn ended. They carry no
 * decision; Gatehouse cancels the matching unresolved request with reason
 * `answered-in-terminal` and answers `{}`.
 */
export const AFTER_EVENTS = ['PostToolUse', 'PostToolUseFailure', 'PermissionDenied', 'Stop'] as const;
export type AfterEvent = (typeof AFTER_EVENTS)[number];
export const ANSWERED_IN_TERMINAL = 'answered-in-terminal';

const afterToolInput = z.looseObject({
  hook_event_name: z.enum(['PostToolUse', 'PostToolUseFailure', 'PermissionDenied']),
  session_id: z.string().min(1).max(200),
  tool_name: z.string().min(1).max(200),
  tool_input: z.record(z.string(), z.unknown()),
  tool_use_id: z.string().min(1).max(200).optional(),
});
const stopInput = z.looseObject({ hook_event_name: z.literal('Stop'), session_id: z.string().min(1).max(200) });

export type AfterInput =
  | { event: Exclude<AfterEvent, 'Stop'>; sessionId: string; toolName: string; toolInput: Record<string, unknown>; toolUseId?: string }
  | { event: 'Stop'; sessionId: string };

/** Any hook input the endpoint takes: one that asks (PermissionRequest, PreToolUse) or
 *  one that reports (AFTER_EVENTS). An error names the field. */
export function parseAnyHookValue(raw: unknown): { ok: true; asks: HookInput } | { ok: true; after: AfterInput } | { ok: false; error: string } {
  const name = (raw as { hook_event_name?: unknown } | null)?.hook_event_name;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, error: '(root): expected a JSON object (the hook input)' };
  if (name === 'Stop') {
    const stop = stopInput.safeParse(raw);
    return stop.success ? { ok: true, after: { event: 'Stop', sessionId: stop.data.session_id } } : { ok: false, error: describeIssues(stop.error) };
  }
  if (typeof name === 'string' && (AFTER_EVENTS as readonly string[]).includes(name)) {
    const after = afterToolInput.safeParse(raw);
    if (!after.success) return { ok: false, error: describeIssues(after.error) };
    const value = after.data;
    return {
      ok: true,
      after: {
        event: value.hook_event_name,
        sessionId: value.session_id,
        toolName: value.tool_name,
        toolInput: value.tool_input,
        ...(value.tool_use_id ? { toolUseId: value.tool_use_id } : {}),
      },
    };
  }
  if (typeof name !== 'string' || !(HOOK_EVENTS as readonly string[]).includes(name)) {
    return { ok: false, error: `hook_event_name: expected one of ${[...HOOK_EVENTS, ...AFTER_EVENTS].join(', ')}` };
  }
  const asks = parseHookValue(raw);
  return asks.ok ? { ok: true, asks: asks.value } : { ok: false, error: asks.error };
}

/** Whether an unresolved request is the one an after-event reports on: asked by a
 *  Claude Code hook in the same session and, for a tool event, the same tool use (when
 *  both know its id) or the same tool and canonical input. `Stop`: any of the session. */
export function afterEventMatches(after: AfterInput, request: { toolName: string; input: Record<string, unknown>; context: Record<string, unknown> }): boolean {
  if (request.context.agent !== HOOK_AGENT || request.context.sessionId !== after.sessionId) return false;
  switch (after.event) {
    case 'Stop':
      return true;
    case 'PostToolUse':
    case 'PostToolUseFailure':
    case 'PermissionDenied': {
      if (request.toolName !== after.toolName) return false;
      const asked = request.context.toolUseId;
      if (typeof asked === 'string' && after.toolUseId) return asked === after.toolUseId;
      return canonicalJson(request.input) === canonicalJson(after.toolInput);
    }
    default: {
      const never: never = after;
      return never;
    }
  }
}

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

/** PreToolUse: the tool use id. PermissionRequest has none: a hash of the session id, the
 *  prompt id and a hash of the tool name and canonical input, so a retried hook finds its
 *  request again. (The same call twice within one prompt shares the first decision.) */
export function idempotencyKeyOf(input: HookInput): string {
  if (input.tool_use_id) return input.tool_use_id;
  const toolHash = sha256(`${input.tool_name}\n${canonicalJson(input.tool_input)}`);
  return `claude-pr-${sha256(`${input.session_id}\n${input.prompt_id ?? ''}\n${toolHash}`)}`;
}

/** The request's own timeout: below the hook's, leaving room to print the server's timeout deny (shared by the command hook and `POST /api/hooks/claude`). */
export function requestTimeoutFor(hookTimeoutSeconds: number): number {
  const hookMs = hookTimeoutSeconds * 1000;
  const margin = Math.min(10_000, Math.floor(hookMs / 4));
  return Math.max(100, hookMs - margin);
}

export function requestSpecOf(input: HookInput, timeoutMs: number): AskSpec {
  const description = typeof input.tool_input.description === 'string' ? input.tool_input.description.slice(0, 10_000) : undefined;
  const context: Record<string, unknown> = {
    sessionId: input.session_id,
    agent: HOOK_AGENT,
    hookEvent: input.hook_event_name,
  };
  if (input.cwd) context.cwd = input.cwd;
  if (input.tool_use_id) context.toolUseId = input.tool_use_id;
  if (input.prompt_id) context.promptId = input.prompt_id;
  if (input.permission_mode) context.permissionMode = input.permission_mode;
  if (description) context.description = description;
  if (input.permission_suggestions) context.suggestions = input.permission_suggestions;
  Object.assign(context, toldContextOf(input));
  // Claude Code's PermissionRequest deny can also stop the turn (`interrupt: true`): offered on the card.
  if (input.hook_event_name === 'PermissionRequest') context.agentChoices = [DENY_AND_INTERRUPT];
  return { toolName: input.tool_name, input: input.tool_input, context, timeoutMs, idempotencyKey: idempotencyKeyOf(input) };
}

/** The card's "Deny and stop the turn": a PermissionRequest deny with `interrupt: true`. */
export const DENY_AND_INTERRUPT = { id: 'deny-interrupt', kind: 'reject_once', label: 'Deny and stop the turn', stopsTurn: true } as const;

export type HookOutput = Record<string, unknown>;

/** Let Claude Code's own permission flow decide: `ask` for PreToolUse, no decision for
 *  PermissionRequest (its prompt takes over). */
export function stepAside(event: HookEvent | undefined, reason: string): HookOutput {
  switch (event) {
    case 'PreToolUse':
      return { hookSpecificOutput: { hookEventName: 'PreToolUse', permissionDecision: 'ask', permissionDecisionReason: `Gatehouse: ${reason}` } };
    case 'PermissionRequest':
    case undefined:
      return {};
    default: {
      const never: never = event;
      return never;
    }
  }
}

export function allowOutput(event: HookEvent, updatedInput: Record<string, unknown> | undefined, reason: string): HookOutput {
  switch (event) {
    case 'PreToolUse':
      return {
        hookSpecificOutput: {
          hookEventName: 'PreToolUse',
          permissionDecision: 'allow',
          permissionDecisionReason: reason,
          ...(updatedInput ? { updatedInput } : {}),
        },
      };
    case 'PermissionRequest':
      return { hookSpecificOutput: { hookEventName: 'PermissionRequest', decision: { behavior: 'allow', ...(updatedInput ? { updatedInput } : {}) } } };
    default: {
      const never: never = event;
      return never;
    }
  }
}

export function denyOutput(event: HookEvent, message: string, interrupt = false): HookOutput {
  switch (event) {
    case 'PreToolUse':
      return { hookSpecificOutput: { hookEventName: 'PreToolUse', permissionDecision: 'deny', permissionDecisionReason: message } };
    case 'PermissionRequest':
      return { hookSpecificOutput: { hookEventName: 'PermissionRequest', decision: { behavior: 'deny', message, ...(interrupt ? { interrupt: true } : {}) } } };
    default: {
      const never: never = event;
      return never;
    }
  }
}

/** A deny always carries a message: the human's reason, else who denied and how
 *  (protocol/outcome.ts, the words every agent is told). */
export function denyMessageOf(outcome: Extract<AskOutcome, { kind: 'finished' }>): string {
  return outcomeMessageForAgent({ ...outcome, decision: 'deny' });
}

/** The hook's stdout for an outcome. A request cancelled by someone else steps aside. */
export function outputOf(event: HookEvent, outcome: AskOutcome): HookOutput {
  switch (outcome.kind) {
    case 'unavailable':
      return stepAside(event, outcome.reason);
    case 'gave-up':
      return stepAside(event, outcome.reason);
    case 'finished':
      if (outcome.status === 'resolved' && outcome.decision === 'allow') {
        return allowOutput(event, outcome.updatedInput, outcomeMessageForAgent(outcome));
      }
      if (outcome.status === 'cancelled') return stepAside(event, denyMessageOf(outcome));
      // Only a human's deny that chose "Deny and stop the turn" interrupts.
      return denyOutput(event, denyMessageOf(outcome), outcome.status === 'resolved' && outcome.agentChoice === DENY_AND_INTERRUPT.id);
    default: {
      const never: never = outcome;
      return never;
    }
  }
}
