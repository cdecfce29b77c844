import { describe, expect, it, vi } from 'vitest';
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
  it("CORE-F8: random bytes are drawn for many ids at once, and no id reuses another one's", () => {
    const draw = vi.spyOn(globalThis.crypto, 'getRandomValues');
    const start = Date.UTC(2031, 0, 1);
    let ids: string[];
    try {
      // A new millisecond each: every id's counter and tail come from its own bytes.
      ids = Array.from({ length: 1000 }, (_, i) => uuidv7(start + i));
      expect(draw.mock.calls.length).toBeLessThanOrEqual(Math.ceil(1000 / 128) + 1);
    } finally {
      draw.mockRestore();
    }
    // The 62 random bits (after the variant) of 1,000 ids, across several draws: all differ.
    const tails = ids.map((id) => id.slice(19));
    expect(new Set(tails).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(SHAPE);
  });
});
