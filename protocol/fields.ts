/**
 * Field schemas shared by the WebSocket messages and the HTTP bodies.
 * Limits are checked here, at the edge, so nothing inside sees an oversized value.
 */
import { z } from 'zod';
import { DECISIONS, LIMITS, RULE_SCOPES } from './constants.ts';

/** UTF-8 size of a string, counted without encoding it (no buffer per call: CORE-F6):
 *  what TextEncoder would produce, a lone surrogate counting as U+FFFD (3 bytes). */
export function utf8ByteLength(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) continue;
    if (code < 0x800) bytes += 1;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 2; // a surrogate pair: 4 bytes for its 2 code units
      i++;
    } else bytes += 2;
  }
  return bytes;
}

/** UTF-8 size of a value's JSON text: the size it has on the wire. A value too deep to
 *  serialize (the stack overflows) counts as infinitely large, never as an exception. */
export function jsonByteLength(value: unknown): number {
  try {
    return utf8ByteLength(JSON.stringify(value) ?? '');
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

/** A tool input in one short line: its command, file path, path, URL or pattern when it
 *  has one as a string, else its JSON; cut to `maxChars` (with an ellipsis). */
export function inputSummaryText(input: unknown, maxChars: number): string {
  let text: string;
  if (typeof input === 'object' && input !== null && !Array.isArray(input)) {
    const fields = input as Record<string, unknown>;
    const key = ['command', 'file_path', 'path', 'url', 'pattern'].find((k) => typeof fields[k] === 'string');
    text = key !== undefined ? (fields[key] as string) : JSON.stringify(input);
  } else text = JSON.stringify(input) ?? '';
  return text.length > maxChars ? text.slice(0, Math.max(0, maxChars - 1)) + '…' : text;
}

/** The bytes a request weighs against `--max-unresolved-bytes`: the JSON of its input
 *  plus the JSON of its context. The one way to count them, for every path that creates. */
export function requestByteLength(request: { input: unknown; context?: unknown }): number {
  return jsonByteLength(request.input) + jsonByteLength(request.context ?? {});
}

/** Is a JSON value nested deeper than `max` objects/arrays? Walked with an explicit stack,
 *  because a recursive walk is exactly what a deep value attacks. */
export function jsonDeeperThan(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    if (depth > max) return true;
    for (const child of Object.values(node)) if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
  }
  return false;
}

export const id = z.string().min(1).max(LIMITS.maxIdLength);
export const seq = z.number().int().nonnegative();
export const timestamp = z.number().int().nonnegative();
export const decision = z.enum(DECISIONS);
export const toolName = z.string().min(1).max(LIMITS.maxToolNameLength);
export const reasonMessage = z.string().max(LIMITS.maxMessageLength);

/** A tool's input: a JSON object of at most 256 KiB, nested at most 100 deep. */
export const toolInput = z.record(z.string(), z.unknown()).superRefine((value, ctx) => {
  if (jsonDeeperThan(value, LIMITS.maxInputDepth)) ctx.addIssue({ code: 'custom', message: `must be nested at most ${LIMITS.maxInputDepth} levels deep` });
  else if (jsonByteLength(value) > LIMITS.maxInputBytes) ctx.addIssue({ code: 'custom', message: `must be at most ${LIMITS.maxInputBytes} bytes of JSON` });
});

/** What is known of the request's origin; open to more keys (nested at most 100 deep, like an input). */
export const requestContext = z
  .looseObject({
    sessionId: z.string().max(LIMITS.maxIdLength).optional(),
    agent: z.string().max(LIMITS.maxIdLength).optional(),
    cwd: z.string().max(4096).optional(),
    toolUseId: z.string().max(LIMITS.maxIdLength).optional(),
    description: z.string().max(LIMITS.maxMessageLength).optional(),
    suggestions: z.array(z.unknown()).optional(),
  })
  .superRefine((value, ctx) => {
    if (jsonDeeperThan(value, LIMITS.maxInputDepth)) ctx.addIssue({ code: 'custom', message: `must be nested at most ${LIMITS.maxInputDepth} levels deep` });
  });

export const timeoutMs = z.number().int().min(LIMITS.minTimeoutMs).max(LIMITS.maxTimeoutMs);

/** "Always allow": remember this decision as a rule in a scope. Without `prefix` the rule
 *  is the exact request (for Bash, the whole command); with it, a broader rule the human
 *  chose from the server's proposal (`POST /api/rules/proposal`), which the server checks
 *  again: a prefix it would not propose for this request is `invalid-message`. */
export const remember = z.object({ scope: z.enum(RULE_SCOPES), prefix: z.string().min(1).max(4096).optional() });

/** What a `remember` made: the rule, or why none (the decision counts all the same). */
export const rememberOutcome = z.union([
  z.object({
    created: z.literal(true),
    rule: z.object({
      id: z.string(),
      toolName: z.string(),
      kind: z.string(),
      pattern: z.string(),
      scope: z.enum(RULE_SCOPES),
      scopeValue: z.string().optional(),
    }),
  }),
  z.object({ created: z.literal(false), reason: z.string() }),
]);

export type Remember = z.infer<typeof remember>;
export type RememberOutcome = z.infer<typeof rememberOutcome>;

export const queueStatus = z.object({ pending: z.number().int().nonnegative(), processing: z.number().int().nonnegative() });
