/**
 * HTTP calls of the UI (sessions, rules, audit), each answer parsed with a zod schema.
 * A failure is an `ApiError` whose message is fit to show: routes that this server does
 * not have yet read "not available on this server", never a crash. Every call of the app
 * goes through here, so every one carries `X-Gatehouse-Client: web`: the server refuses a
 * call that only the session cookie authenticates without it (docs/operations.md, "The
 * cookie rule"), and no other page can add that header.
 */
import type { z } from 'zod';
import { errorBody, parseWith } from '../../protocol/index.ts';
import { authHeaders } from './token.ts';

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code?: string,
  ) {
    super(message);
  }
}

/** What every HTTP call of the app sends. */
export function appHeaders(): Record<string, string> {
  return { 'X-Gatehouse-Client': 'web', ...authHeaders() };
}

export async function api<S extends z.ZodType>(path: string, schema: S, init: { method?: string; body?: unknown } = {}): Promise<z.infer<S>> {
  let response: Response;
  try {
    response = await fetch(path, {
      method: init.method ?? 'GET',
      credentials: 'same-origin',
      headers: { ...appHeaders(), ...(init.body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    });
  } catch (error) {
    throw new ApiError(`network error: ${String(error)}`, 0);
  }
  const text = await response.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: handled below
  }
  if (!response.ok) {
    const parsed = parseWith(errorBody, json);
    if (response.status === 404 && (!parsed.ok || parsed.value.error.code === 'not-found')) {
      throw new ApiError(`${path} is not available on this server (404)`, 404, 'not-found');
    }
    const message = parsed.ok ? `${parsed.value.error.code}: ${parsed.value.error.message}` : `HTTP ${response.status}`;
    throw new ApiError(message, response.status, parsed.ok ? parsed.value.error.code : undefined);
  }
  const parsed = parseWith(schema, json);
  if (!parsed.ok) throw new ApiError(`unexpected answer from ${path}: ${parsed.error}`, response.status);
  return parsed.value;
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
