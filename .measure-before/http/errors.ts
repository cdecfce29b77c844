/**
 * Error bodies (protocol-v1.md §4): every error is `{"error":{"code","message"}}`, with
 * extra fields inside `error` where they help (the winning `decision` of an
 * already-resolved request).
 */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ErrorCode } from '../../protocol/index.ts';

export function errorJson(code: ErrorCode, message: string, extra: Record<string, unknown> = {}) {
  return { error: { code, message, ...extra } };
}

export function errorResponse(c: Context, status: ContentfulStatusCode, code: ErrorCode, message: string, extra: Record<string, unknown> = {}) {
  return c.json(errorJson(code, message, extra), status);
}

/** A plain Response, for places without a Context. */
export function errorResponseRaw(status: number, code: ErrorCode, message: string, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(errorJson(code, message)), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
  });
}
