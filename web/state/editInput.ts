/**
 * Validation of an edited tool input ("Edit and allow"): it must be JSON, an object, and
 * fit the protocol's input limit; the answer names the problem for the editor to show.
 */
import { parseWith, toolInput } from '../../protocol/index.ts';

export type EditResult = { ok: true; value: Record<string, unknown> } | { ok: false; error: string };

export function parseEditedInput(text: string): EditResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, error: `Not valid JSON: ${error instanceof Error ? error.message : String(error)}` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, error: 'The input must be a JSON object.' };
  const parsed = parseWith(toolInput, value);
  return parsed.ok ? { ok: true, value: parsed.value } : { ok: false, error: `Invalid input: ${parsed.error}` };
}
