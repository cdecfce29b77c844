import { describe, expect, it } from 'vitest';
import { jsonByteLength, utf8ByteLength } from './fields.ts';

/** A seeded generator (mulberry32), so a failure names its case and repeats. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('byte sizes without encoding (CORE-F7)', () => {
  const encoder = new TextEncoder();
  it('CORE-F7: utf8ByteLength equals the length of TextEncoder output, lone surrogates included', () => {
    const samples = [
      '',
      'abc',
      '\x7f',
      '\x80',
      'é',
      '\u07ff',
      '\u0800',
      '€',
      '\uffff',
      '😀',
      'a😀b',
      '\ud800',
      '\udc00',
      '\ud800x',
      'x\udbff',
      '\udc00\ud800',
      '\ud83d\ude00\ud83d',
    ];
    const random = seeded(7);
    for (let n = 0; n < 2000; n++) {
      let text = '';
      for (let k = 0; k < 8; k++) text += String.fromCharCode(Math.floor(random() * 0x10000));
      samples.push(text);
    }
    for (const text of samples) expect(utf8ByteLength(text), JSON.stringify(text)).toBe(encoder.encode(text).length);
  });

  it('CORE-F7: jsonByteLength is the UTF-8 size of the JSON text; too deep to serialize is infinite', () => {
    const value = { command: 'echo ünïcödé 😀', n: [1, 2, { a: '\ud800' }] };
    expect(jsonByteLength(value)).toBe(encoder.encode(JSON.stringify(value)).length);
    expect(jsonByteLength(undefined)).toBe(0);
    let deep: unknown = {};
    for (let i = 0; i < 200_000; i++) deep = { deep };
    expect(jsonByteLength(deep)).toBe(Number.POSITIVE_INFINITY);
  });
});
