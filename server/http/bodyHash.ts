/** The SHA-256 of a body's canonical JSON: the `bodyHash` that tells "the same body
 *  again" from "another body" under one Idempotency-Key, whatever the key order. One-shot
 *  `crypto.hash` (Node ≥ 20.12; the text as UTF-8): the same digest as a `createHash`
 *  object, without building one per create (CORE-F9). */
import { hash } from 'node:crypto';
import { canonicalJson } from '../../protocol/index.ts';

export function bodyHash(value: unknown): string {
  return hash('sha256', canonicalJson(value), 'hex');
}
