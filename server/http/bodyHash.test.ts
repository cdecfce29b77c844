import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../protocol/index.ts';
import { bodyHash } from './bodyHash.ts';

describe('bodyHash (CORE-F9)', () => {
  it('CORE-F9: the SHA-256 hex of the canonical JSON as UTF-8, whatever the key order', () => {
    const body = { toolName: 'Bash', input: { command: 'echo ünï 😀', b: [1, { y: 2, x: 1 }] }, context: { cwd: '/w' }, timeoutMs: 1000 };
    const expected = createHash('sha256').update(canonicalJson(body), 'utf8').digest('hex');
    expect(bodyHash(body)).toBe(expected);
    expect(bodyHash({ timeoutMs: 1000, context: { cwd: '/w' }, input: { b: [1, { x: 1, y: 2 }], command: 'echo ünï 😀' }, toolName: 'Bash' })).toBe(expected);
    expect(bodyHash({ ...body, timeoutMs: 1001 })).not.toBe(expected);
  });
});
