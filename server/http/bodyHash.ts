/** The SHA-256 of a body's canonical JSON: the `bodyHash` that tells "the same body
 *  again" from "another body" under one Idempotency-Key, whatever the key order. */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../../protocol/index.ts';

export function bodyHash(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value), 'utf8').digest('hex');
}
