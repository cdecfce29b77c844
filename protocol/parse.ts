/**
 * Parsing at the edge: turn untrusted text into a typed value or an error that names
 * the problem (the field and what was wrong), never an exception.
 */
import type { z } from 'zod';

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string };

/** A short, human message naming each failing field, e.g. `input: must be an object`. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length ? issue.path.join('.') : '(root)'}: ${issue.message}`)
    .join('; ');
}

export function parseWith<S extends z.ZodType>(schema: S, value: unknown): ParseResult<z.infer<S>> {
  const result = schema.safeParse(value);
  return result.success ? { ok: true, value: result.data } : { ok: false, error: describeIssues(result.error) };
}

/** JSON text to a schema's value; a frame that is not JSON gets a clear error too. */
export function parseJsonWith<S extends z.ZodType>(schema: S, text: string): ParseResult<z.infer<S>> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, error: 'not valid JSON' };
  }
  return parseWith(schema, value);
}
