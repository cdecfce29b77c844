/**
 * Field schemas shared by the WebSocket messages and the HTTP bodies.
 * Limits are checked here, at the edge, so nothing inside sees an oversized value.
 */
import { z } from 'zod';
import { DECISIONS, LIMITS, RULE_SCOPES } from './constants.ts';

const encoder = new TextEncoder();
/** UTF-8 size of a value's JSON text: the size it has on the wire. */
export function jsonByteLength(value: unknown): number {
  return encoder.encode(JSON.stringify(value) ?? '').length;
}

export const id = z.string().min(1).max(LIMITS.maxIdLength);
export const seq = z.number().int().nonnegative();
export const timestamp = z.number().int().nonnegative();
export const decision = z.enum(DECISIONS);
export const toolName = z.string().min(1).max(LIMITS.maxToolNameLength);
export const reasonMessage = z.string().max(LIMITS.maxMessageLength);

/** A tool's input: a JSON object of at most 256 KiB. */
export const toolInput = z
  .record(z.string(), z.unknown())
  .refine((value) => jsonByteLength(value) <= LIMITS.maxInputBytes, {
    message: `must be at most ${LIMITS.maxInputBytes} bytes of JSON`,
  });

/** What is known of the request's origin; open to more keys. */
export const requestContext = z.looseObject({
  sessionId: z.string().max(LIMITS.maxIdLength).optional(),
  agent: z.string().max(LIMITS.maxIdLength).optional(),
  cwd: z.string().max(4096).optional(),
  toolUseId: z.string().max(LIMITS.maxIdLength).optional(),
  description: z.string().max(LIMITS.maxMessageLength).optional(),
  suggestions: z.array(z.unknown()).optional(),
});

export const timeoutMs = z.number().int().min(LIMITS.minTimeoutMs).max(LIMITS.maxTimeoutMs);

/** "Allow always": remember this decision as a rule in a scope. */
export const remember = z.object({ scope: z.enum(RULE_SCOPES) });

export const queueStatus = z.object({ pending: z.number().int().nonnegative(), processing: z.number().int().nonnegative() });
