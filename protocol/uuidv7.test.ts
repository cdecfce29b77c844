import { describe, expect, it } from 'vitest';
import { uuidv7, uuidv7Time } from './uuidv7.ts';

const SHAPE = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('uuidv7', () => {
  it('CORE-L5: an id is a version-7, variant-10 UUID carrying its millisecond', () => {
    const at = Date.UTC(2026, 11, 2, 1, 2, 3, 456);
    const id = uuidv7(at);
    expect(id).toMatch(SHAPE);
    expect(uuidv7Time(id)).toBe(at);
    // 48 bits of milliseconds: far dates still round-trip.
    expect(uuidv7Time(uuidv7(2 ** 47 + 5))).toBe(2 ** 47 + 5);
    expect(uuidv7Time('not-a-uuid')).toBeUndefined();
    expect(uuidv7Time(crypto.randomUUID())).toBeUndefined();
  });

  it('CORE-L5: ids sort in the order they were made, within one millisecond and across a clock step back', () => {
    const at = Date.UTC(2030, 0, 1);
    const ids = [...Array.from({ length: 10_000 }, () => uuidv7(at)), uuidv7(at - 1_000), uuidv7(at + 1)];
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(SHAPE);
    const sorted = [...ids].sort();
    expect(sorted).toEqual(ids);
  });
});
