import { describe, expect, it } from 'vitest';
import { canonicalJson } from './canonicalJson.ts';

/** The first canonical form (entries filtered, then sorted with `<`), kept here as the
 *  reference the faster one must equal. */
function reference(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((item) => (item === undefined ? 'null' : reference(item))).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${reference(v)}`).join(',')}}`;
}

describe('canonical JSON (CORE-F9)', () => {
  it('CORE-F9: keys sorted by UTF-16 code units at every level, undefined members left out, equal to the reference form', () => {
    const values: unknown[] = [
      null,
      1,
      'x',
      [],
      {},
      [undefined, 1, { b: undefined }],
      { b: 1, a: { d: [1, { z: 1, y: 2 }], c: null }, u: undefined },
      { é: 1, e: 2, Z: 3, '😀': 4, '\uffff': 5, '10': 6, '9': 7, '': 8, __proto__x: 9 },
      { only: undefined },
      { first: undefined, second: 2 },
      { nested: { deeper: { deepest: [{ b: 2, a: 1 }, 'text', false] } } },
    ];
    for (const value of values) expect(canonicalJson(value), JSON.stringify(value)).toBe(reference(value));
    expect(canonicalJson({ b: 1, a: 2 })).toBe('{"a":2,"b":1}');
    expect(canonicalJson({ first: undefined, second: 2 })).toBe('{"second":2}');
  });
});
