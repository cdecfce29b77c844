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

/** Untrusted JSON text to a value. A `__proto__` key anywhere is refused: JSON.parse
 *  keeps it as an own key, but zod's records drop it, so the human and the rules would
 *  see an input without it while the tool receives it (docs/security.md). */
export function parseJsonText(text: string): ParseResult<unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, error: 'not valid JSON' };
  }
  // The walk only when the text can hold such a key: every frame passes here.
  if (text.includes('__proto__') && hasProtoKey(value)) return { ok: false, error: '__proto__: a key that is refused anywhere in a message' };
  return { ok: true, value };
}

function hasProtoKey(root: unknown): boolean {
  const stack = [root];
  while (stack.length) {
    const value = stack.pop();
    if (typeof value !== 'object' || value === null) continue;
    if (!Array.isArray(value) && Object.hasOwn(value, '__proto__')) return true;
    for (const child of Object.values(value)) stack.push(child);
  }
  return false;
}

/** JSON text to a schema's value; a frame that is not JSON gets a clear error too. */
export function parseJsonWith<S extends z.ZodType>(schema: S, text: string): ParseResult<z.infer<S>> {
  const parsed = parseJsonText(text);
  return parsed.ok ? parseWith(schema, parsed.value) : parsed;
}
