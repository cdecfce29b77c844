/**
 * ACP `session/request_permission`, as pure functions: read the agent's ask (leniently:
 * an option kind this version does not know is kept but never chosen), turn it into a
 * Gatehouse request (tool name, input, context), and turn Gatehouse's outcome into the
 * agent's own answer: one of ITS option ids, or the `cancelled` outcome. Fail closed:
 * only an allow decision of a human or a rule selects an allow option: `allow_once`, or
 * the option the human chose on the card (`chosenOption`: offered, of a known kind, fitting
 * the decision; docs/integrations.md, "The agent's own choices"). I/O lives in proxy.ts.
 */
import { basename } from 'node:path';
import { z } from 'zod';
import type { PermissionOption, PermissionOptionKind, RequestPermissionResponse } from '@agentclientprotocol/sdk';
import {
  AGENT_CHOICE_KINDS,
  canonicalJson,
  choiceFitsDecision,
  describeIssues,
  jsonByteLength,
  LIMITS,
  outcomeMessageForAgent,
  type AgentChoice,
  type Decision,
} from '../../../protocol/index.ts';
import type { AskOutcome, AskSpec } from '../client/ask.ts';

/** Larger pieces of the ask (diffs, raw input) are cut from the request beyond this. */
const MAX_PIECE_BYTES = 64 << 10;

const option = z.looseObject({
  optionId: z.string().min(1).max(LIMITS.maxIdLength),
  name: z.string().max(1000).optional(),
  // Kept as a string: a kind added by a later protocol version must not make the whole
  // ask unreadable; it is simply never selected.
  kind: z.string().max(100),
});

const askParams = z.looseObject({
  sessionId: z.string().min(1).max(LIMITS.maxIdLength),
  options: z.array(option).max(100),
  toolCall: z.looseObject({
    toolCallId: z.string().min(1).max(LIMITS.maxIdLength),
    title: z.string().nullish(),
    kind: z.string().max(100).nullish(),
    status: z.string().nullish(),
    rawInput: z.unknown().optional(),
    content: z.array(z.unknown()).nullish(),
    locations: z.array(z.unknown()).nullish(),
    _meta: z.record(z.string(), z.unknown()).nullish(),
  }),
});
export type AcpAsk = z.infer<typeof askParams>;
export type AcpOption = z.infer<typeof option>;

export function parseAsk(params: unknown): { ok: true; value: AcpAsk } | { ok: false; error: string } {
  const result = askParams.safeParse(params);
  return result.success ? { ok: true, value: result.data } : { ok: false, error: describeIssues(result.error) };
}

/** `acp:<basename of CMD>` (contract-2 §5), trimmed to an id's length. */
export function agentNameOf(command: string): string {
  return `acp:${basename(command) || command}`.slice(0, LIMITS.maxIdLength);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A piece of the ask small enough to travel in the request, else a note that it was cut. */
function bounded(value: unknown): unknown {
  return jsonByteLength(value) <= MAX_PIECE_BYTES ? value : { omitted: `more than ${MAX_PIECE_BYTES} bytes` };
}

/** The text of the tool call's `content` blocks (`{type:"content", content:{type:"text"}}`). */
function contentText(content: unknown[] | null | undefined): string {
  const parts: string[] = [];
  for (const block of content ?? []) {
    if (!isRecord(block) || block.type !== 'content' || !isRecord(block.content)) continue;
    if (block.content.type === 'text' && typeof block.content.text === 'string') parts.push(block.content.text);
  }
  return parts.join('\n').slice(0, LIMITS.maxMessageLength);
}

/**
 * The Gatehouse tool name and input of an ask:
 * - the agent names a Claude Code tool (`_meta.claudeCode.toolName`, claude-agent-acp)
 *   and gives an object `rawInput`: that tool and that input, so Claude's rules and cards apply;
 * - a shell command (kind `execute`): `Bash` with `input.command` from `rawInput.command`,
 *   else the title (Gemini CLI's title of a shell call IS its command, and it sends no rawInput);
 * - anything else: `acp:<kind>` with the title, kind, locations, raw input and content,
 *   so a remembered rule for it matches only the very same ask.
 */
export function toolOf(ask: AcpAsk): { toolName: string; input: Record<string, unknown> } {
  const call = ask.toolCall;
  const raw = call.rawInput;
  const claude = isRecord(call._meta) && isRecord(call._meta.claudeCode) ? call._meta.claudeCode : undefined;
  const claudeTool =
    typeof claude?.toolName === 'string' && claude.toolName.length > 0 && claude.toolName.length <= LIMITS.maxToolNameLength ? claude.toolName : undefined;
  if (claudeTool && isRecord(raw) && jsonByteLength(raw) <= LIMITS.maxInputBytes) return { toolName: claudeTool, input: raw };
  if (call.kind === 'execute') {
    const command = isRecord(raw) && typeof raw.command === 'string' ? raw.command : raw === undefined ? (call.title ?? undefined) : undefined;
    if (command) {
      const input: Record<string, unknown> = { command };
      if (isRecord(raw) && typeof raw.description === 'string') input.description = raw.description;
      return { toolName: 'Bash', input };
    }
  }
  const input: Record<string, unknown> = { kind: call.kind ?? 'other' };
  if (call.title) input.title = call.title.slice(0, LIMITS.maxMessageLength);
  if (call.locations?.length) input.locations = bounded(call.locations);
  if (raw !== undefined) input.rawInput = bounded(raw);
  if (call.content?.length) input.content = bounded(call.content);
  return { toolName: `acp:${call.kind ?? 'other'}`.slice(0, LIMITS.maxToolNameLength), input };
}

/** The Gatehouse request of an ask. The idempotency key is unique per proxy and ask. */
export function requestSpecOf(ask: AcpAsk, options: { agent: string; cwd?: string; idempotencyKey: string; timeoutMs?: number }): AskSpec {
  const { toolName, input } = toolOf(ask);
  const call = ask.toolCall;
  const context: Record<string, unknown> = {
    agent: options.agent,
    sessionId: ask.sessionId,
    toolUseId: call.toolCallId,
    // The agent's own options, so a card (and the audit) can show what the agent offered.
    acpOptions: ask.options.map((o) => ({ optionId: o.optionId, kind: o.kind, ...(o.name !== undefined ? { name: o.name } : {}) })),
    // The same, as the card's choices (protocol/agentChoices.ts): known kinds only.
    agentChoices: agentChoicesOfOptions(ask.options),
  };
  // (The request schema takes a folder of at most 4096 characters.)
  if (options.cwd && options.cwd.length <= 4096) context.cwd = options.cwd;
  if (call.title) context.title = call.title.slice(0, LIMITS.maxMessageLength);
  if (call.kind) context.kind = call.kind;
  const description = contentText(call.content);
  if (description) context.description = description;
  // A generic `acp:<kind>` input holds the content already; otherwise keep what the agent showed.
  if (!toolName.startsWith('acp:') && call.content?.length) context.content = bounded(call.content);
  return { toolName, input, context, idempotencyKey: options.idempotencyKey, ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}) };
}

/** The agent's options as the card's choices, in the agent's order and wording; an
 *  option of a kind this version does not know is not offered (it is never chosen). */
export function agentChoicesOfOptions(options: readonly AcpOption[]): AgentChoice[] {
  const choices: AgentChoice[] = [];
  for (const o of options) {
    const kind = AGENT_CHOICE_KINDS.find((k) => k === o.kind);
    if (!kind) continue;
    choices.push({ id: o.optionId, kind, label: (o.name?.trim() || o.optionId).slice(0, 1000) });
  }
  return choices;
}

export type AcpAnswer = RequestPermissionResponse;
export const CANCELLED: AcpAnswer = { outcome: { outcome: 'cancelled' } };

function firstOf(options: readonly AcpOption[], kind: PermissionOptionKind): AcpOption | undefined {
  return options.find((o) => o.kind === kind);
}

const selected = (o: Pick<PermissionOption, 'optionId'>): AcpAnswer => ({ outcome: { outcome: 'selected', optionId: o.optionId } });

/** A reject: the agent's `reject_once`, else the `cancelled` outcome (never a broader
 *  `reject_always` the human did not choose). */
export function rejectAnswer(options: readonly AcpOption[]): AcpAnswer {
  const reject = firstOf(options, 'reject_once');
  return reject ? selected(reject) : CANCELLED;
}

/** An allow: the agent's `allow_once`; with none, a reject (never an `allow_always`). */
export function allowAnswer(options: readonly AcpOption[]): AcpAnswer {
  const allow = firstOf(options, 'allow_once');
  return allow ? selected(allow) : rejectAnswer(options);
}

/** The option the human chose on the card, when it is one the agent offered, of a known
 *  kind that goes with the decision; else undefined (the plain answer applies). */
export function chosenOption(options: readonly AcpOption[], choiceId: string | undefined, decision: Decision): AcpOption | undefined {
  if (choiceId === undefined) return undefined;
  const option = options.find((o) => o.optionId === choiceId);
  const kind = AGENT_CHOICE_KINDS.find((k) => k === option?.kind);
  return option && kind && choiceFitsDecision(kind, decision) ? option : undefined;
}

export type GatehouseVerdict =
  /** A human or a rule decided: this answers the agent. */
  | { kind: 'answer'; answer: AcpAnswer; why: string }
  /** No decision (server down, timed out, cancelled): the editor's copy, if any, decides. */
  | { kind: 'no-decision'; why: string };

/**
 * What Gatehouse's outcome means for the agent. An allow whose `updatedInput` differs
 * from the input is a reject: ACP cannot carry an edited input back, and running the
 * original after the human edited it would run what they did not approve.
 */
export function verdictOf(outcome: AskOutcome, ask: AcpAsk, input: Record<string, unknown>): GatehouseVerdict {
  switch (outcome.kind) {
    case 'unavailable':
      return { kind: 'no-decision', why: `Gatehouse could not be asked: ${outcome.reason}` };
    case 'gave-up':
      return { kind: 'no-decision', why: `stopped waiting for Gatehouse: ${outcome.reason}` };
    case 'finished': {
      switch (outcome.status) {
        case 'timedOut':
        case 'cancelled':
          return { kind: 'no-decision', why: `the Gatehouse request ${outcome.requestId}: ${outcomeMessageForAgent(outcome)}` };
        case 'resolved':
          break;
        default: {
          const never: never = outcome.status;
          return never;
        }
      }
      const chosen = chosenOption(ask.options, outcome.agentChoice, outcome.decision);
      const own = chosen ? ` (the agent's own ${chosen.kind})` : '';
      if (outcome.decision !== 'allow')
        return { kind: 'answer', answer: chosen ? selected(chosen) : rejectAnswer(ask.options), why: `${outcomeMessageForAgent(outcome)}${own}` };
      if (outcome.updatedInput && canonicalJson(outcome.updatedInput) !== canonicalJson(input)) {
        return { kind: 'answer', answer: rejectAnswer(ask.options), why: 'allowed with an edited input, which ACP cannot carry: rejected' };
      }
      return { kind: 'answer', answer: chosen ? selected(chosen) : allowAnswer(ask.options), why: `${outcomeMessageForAgent(outcome)}${own}` };
    }
    default: {
      const never: never = outcome;
      return never;
    }
  }
}
