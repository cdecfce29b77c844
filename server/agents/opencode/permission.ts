/**
 * opencode's permission asks, as pure functions (docs/integrations.md, "opencode"): read
 * a `permission.asked` / `permission.replied` event (and an entry of `GET /permission`),
 * turn an ask into a Gatehouse request, and Gatehouse's outcome into opencode's reply.
 * Fail closed: only an allow decision of a human or a rule replies `once`; everything
 * else (a deny, a timeout, a cancel, a server that is down or unproven) replies
 * `reject` with a message saying why. opencode's own `always` is sent only when the
 * human chose it on the card (the choice `always`, shown with the patterns it would
 * allow from now on; protocol/agentChoices.ts), never for a rule's allow.
 * I/O lives in bridge.ts and server/cli/opencode.ts.
 */
import { z } from 'zod';
import { canonicalJson, describeIssues, jsonByteLength, LIMITS, outcomeMessageForAgent, type AgentChoice } from '../../../protocol/index.ts';
import type { AskOutcome, AskSpec } from '../client/ask.ts';

/** Larger pieces of an ask (metadata with a diff, long pattern lists) are cut beyond this. */
const MAX_PIECE_BYTES = 64 << 10;

const askShape = z.looseObject({
  id: z.string().min(1).max(LIMITS.maxIdLength),
  sessionID: z.string().min(1).max(LIMITS.maxIdLength),
  permission: z.string().min(1).max(100),
  patterns: z.array(z.string().max(LIMITS.maxMessageLength)).max(1000),
  metadata: z.record(z.string(), z.unknown()),
  always: z.array(z.string().max(LIMITS.maxMessageLength)).max(1000),
  tool: z.looseObject({ messageID: z.string().max(LIMITS.maxIdLength), callID: z.string().max(LIMITS.maxIdLength) }).optional(),
});
export type OpencodeAsk = z.infer<typeof askShape>;

const repliedShape = z.looseObject({ sessionID: z.string().optional(), requestID: z.string().min(1), reply: z.string().optional() });

export type OpencodeEvent =
  | { kind: 'asked'; ask: OpencodeAsk }
  | { kind: 'replied'; requestId: string; reply?: string | undefined }
  /** A `permission.asked` that does not fit the schema: never sent to Gatehouse. */
  | { kind: 'unreadable-ask'; id?: string | undefined; error: string }
  | { kind: 'other'; type: string };

export function parseAsk(value: unknown): { ok: true; value: OpencodeAsk } | { ok: false; error: string } {
  const result = askShape.safeParse(value);
  return result.success ? { ok: true, value: result.data } : { ok: false, error: describeIssues(result.error) };
}

/** One event of opencode's `GET /event` stream (its `data:` JSON). */
export function parseEvent(value: unknown): OpencodeEvent {
  if (!isRecord(value) || typeof value.type !== 'string') return { kind: 'other', type: '(not an event)' };
  switch (value.type) {
    case 'permission.asked': {
      const parsed = parseAsk(value.properties);
      if (parsed.ok) return { kind: 'asked', ask: parsed.value };
      const id = isRecord(value.properties) && typeof value.properties.id === 'string' ? value.properties.id : undefined;
      return { kind: 'unreadable-ask', id, error: parsed.error };
    }
    case 'permission.replied': {
      const parsed = repliedShape.safeParse(value.properties);
      return parsed.success ? { kind: 'replied', requestId: parsed.data.requestID, reply: parsed.data.reply } : { kind: 'other', type: value.type };
    }
    default:
      return { kind: 'other', type: value.type };
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function bounded(value: unknown): unknown {
  return jsonByteLength(value) <= MAX_PIECE_BYTES ? value : { omitted: `more than ${MAX_PIECE_BYTES} bytes` };
}

/**
 * The Gatehouse tool name and input of an ask:
 * - `bash` with a string `metadata.command`: `Bash` with that command (and its
 *   description), so Gatehouse's Bash rules and card apply;
 * - `edit` with a string `metadata.filepath`: `Edit` with `file_path` and the `diff`
 *   opencode shows (Edit rules match on the path; the card shows the diff as input);
 * - anything else (`external_directory`, `webfetch`, …): `opencode:<permission>` with
 *   the patterns and metadata, so a remembered rule matches only the very same ask.
 */
export function toolOf(ask: OpencodeAsk): { toolName: string; input: Record<string, unknown> } {
  const meta = ask.metadata;
  if (ask.permission === 'bash' && typeof meta.command === 'string' && meta.command.length > 0) {
    const input: Record<string, unknown> = { command: meta.command };
    if (typeof meta.description === 'string') input.description = meta.description.slice(0, LIMITS.maxMessageLength);
    return { toolName: 'Bash', input };
  }
  if (ask.permission === 'edit' && typeof meta.filepath === 'string' && meta.filepath.length > 0) {
    const input: Record<string, unknown> = { file_path: meta.filepath };
    if (typeof meta.diff === 'string')
      input.diff = jsonByteLength(meta.diff) <= MAX_PIECE_BYTES ? meta.diff : `(a diff of more than ${MAX_PIECE_BYTES} bytes, not shown)`;
    return { toolName: 'Edit', input };
  }
  return { toolName: `opencode:${ask.permission}`.slice(0, LIMITS.maxToolNameLength), input: { patterns: bounded(ask.patterns), metadata: bounded(meta) } };
}

/** The Gatehouse request of an ask. */
export function requestSpecOf(ask: OpencodeAsk, options: { cwd?: string | undefined; idempotencyKey: string }): AskSpec {
  const { toolName, input } = toolOf(ask);
  const context: Record<string, unknown> = {
    agent: 'opencode',
    sessionId: ask.sessionID,
    opencodeRequestId: ask.id,
    permission: ask.permission,
    patterns: bounded(ask.patterns),
    metadata: bounded(ask.metadata),
    // What opencode's own "always" would allow from now on (sent only when the human chose it).
    always: bounded(ask.always),
    agentChoices: agentChoicesOf(ask),
  };
  if (ask.tool?.callID) context.toolUseId = ask.tool.callID;
  if (options.cwd && options.cwd.length <= 4096) context.cwd = options.cwd;
  const description = `opencode asks for "${ask.permission}": ${ask.patterns.join(', ')}`;
  context.description = description.slice(0, LIMITS.maxMessageLength);
  return { toolName, input, context, idempotencyKey: options.idempotencyKey };
}

/** opencode's three replies as the card's choices; `always` with the patterns it would
 *  allow (offered only when opencode names some: an empty `always` would widen to nothing
 *  anyone could see). */
export function agentChoicesOf(ask: OpencodeAsk): AgentChoice[] {
  const choices: AgentChoice[] = [{ id: 'once', kind: 'allow_once', label: 'Allow once' }];
  if (ask.always.length > 0) {
    const scope = `opencode stops asking for "${ask.permission}" matching: ${ask.always.join(', ')}`;
    choices.push({ id: 'always', kind: 'allow_always', label: 'Always allow', scope: scope.slice(0, LIMITS.maxMessageLength) });
  }
  choices.push({ id: 'reject', kind: 'reject_once', label: 'Reject' });
  return choices;
}

/** opencode's reply body (`POST /permission/:id/reply`). */
export type OpencodeReply = { reply: 'once' | 'always' | 'reject'; message?: string };

const rejected = (message: string): OpencodeReply => ({ reply: 'reject', message: message.slice(0, LIMITS.maxMessageLength) });

/** What Gatehouse's outcome means for opencode. An allow whose `updatedInput` differs
 *  from the input is a reject: opencode cannot carry an edited input back. */
export function replyOf(outcome: AskOutcome, input: Record<string, unknown>, ask: Pick<OpencodeAsk, 'always'> = { always: [] }): OpencodeReply {
  switch (outcome.kind) {
    case 'unavailable':
      return rejected(`Gatehouse could not be asked, so this was not allowed: ${outcome.reason}`);
    case 'gave-up':
      return rejected(`Stopped waiting for Gatehouse, so this was not allowed: ${outcome.reason}`);
    case 'finished':
      switch (outcome.status) {
        case 'timedOut':
        case 'cancelled':
          return rejected(outcomeMessageForAgent(outcome));
        case 'resolved':
          break;
        default: {
          const never: never = outcome.status;
          return never;
        }
      }
      if (outcome.decision !== 'allow') return rejected(outcomeMessageForAgent(outcome));
      if (outcome.updatedInput && canonicalJson(outcome.updatedInput) !== canonicalJson(input)) {
        return rejected('Allowed in Gatehouse with an edited input, which opencode cannot carry: not allowed. Ask again with the edited command.');
      }
      // `always` only when the human chose it (agentChoiceBook.ts: never for a rule) and opencode offered it.
      return { reply: outcome.agentChoice === 'always' && ask.always.length > 0 ? 'always' : 'once' };
    default: {
      const never: never = outcome;
      return never;
    }
  }
}
