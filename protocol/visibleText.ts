/**
 * What a human may safely be shown of an untrusted string (a command, a path, a diff, a
 * rule pattern, a label, an audit field): every character that is invisible, moves other
 * text around, or looks like a plain space but is not one becomes a visible escape
 * (`\r`, `\x1b`, `\u202E`, `\u{E0041}`), and the result says that it did. The browser
 * renders the escapes distinctly and warns next to them; this module knows no DOM, so
 * it is one meaning in one place for every view (docs/ui.md, "What the human sees").
 *
 * Kept as they are: tab and newline (they show as what they are), every printable
 * character of any script. Not handled here: look-alike letters from other scripts
 * (Cyrillic `а` for Latin `a`) and combining marks; see docs/ui.md for why.
 */

/** Why a code point is escaped. */
export type HiddenKind = 'control' | 'bidi' | 'invisible' | 'space' | 'surrogate';

/** A run of text as it is, or one escaped code point (or lone surrogate). */
export type VisibleSegment = { kind: 'text'; text: string } | { kind: 'escape'; text: string; codePoint: number; why: HiddenKind; name: string };

export type VisibleText = {
  /** The string with every hidden character replaced by its escape. */
  text: string;
  /** True when at least one character was escaped: show the warning. */
  hidden: boolean;
};

export const HIDDEN_CHARACTERS_WARNING = 'This input contains hidden or control characters, shown as escapes such as \\u202E or \\r.';

/** Ranges (inclusive) of code points that are not what they look like, by kind. */
const RANGES: ReadonlyArray<readonly [number, number, HiddenKind]> = [
  // C0 except tab and newline; DEL; C1 (U+0085 NEL included: a line break to a browser, a plain byte to bash).
  [0x00, 0x08, 'control'],
  [0x0b, 0x1f, 'control'],
  [0x7f, 0x9f, 'control'],
  // Spaces that look like U+0020 but are no word break for a shell.
  [0xa0, 0xa0, 'space'],
  [0xad, 0xad, 'invisible'], // soft hyphen
  [0x034f, 0x034f, 'invisible'], // combining grapheme joiner
  [0x061c, 0x061c, 'bidi'], // Arabic letter mark
  [0x115f, 0x1160, 'invisible'], // Hangul fillers
  [0x1680, 0x1680, 'space'],
  [0x17b4, 0x17b5, 'invisible'], // Khmer inherent vowels
  [0x180b, 0x180f, 'invisible'], // Mongolian variation selectors, vowel separator
  [0x2000, 0x200a, 'space'],
  [0x200b, 0x200d, 'invisible'], // zero-width space, non-joiner, joiner
  [0x200e, 0x200f, 'bidi'], // LRM, RLM
  [0x2028, 0x2029, 'space'], // line and paragraph separators: a line break to a browser only
  [0x202a, 0x202e, 'bidi'], // LRE, RLE, PDF, LRO, RLO
  [0x202f, 0x202f, 'space'],
  [0x205f, 0x205f, 'space'],
  [0x2060, 0x2065, 'invisible'], // word joiner, invisible operators (U+2065 unassigned)
  [0x2066, 0x2069, 'bidi'], // LRI, RLI, FSI, PDI
  [0x206a, 0x206f, 'invisible'], // deprecated format characters
  [0x3000, 0x3000, 'space'],
  [0x3164, 0x3164, 'invisible'], // Hangul filler
  [0xfe00, 0xfe0f, 'invisible'], // variation selectors
  [0xfeff, 0xfeff, 'invisible'], // zero-width no-break space (BOM)
  [0xffa0, 0xffa0, 'invisible'], // halfwidth Hangul filler
  [0xfff9, 0xfffb, 'invisible'], // interlinear annotation
  [0x1bca0, 0x1bca3, 'invisible'], // shorthand format controls
  [0x1d173, 0x1d17a, 'invisible'], // musical format controls
  [0xe0000, 0xe007f, 'invisible'], // tag characters
  [0xe0100, 0xe01ef, 'invisible'], // variation selectors supplement
];

/** Names a human recognises, for the escape's tooltip; the rest are `U+XXXX`. */
const NAMES: Readonly<Record<number, string>> = {
  0: 'NULL',
  7: 'BELL',
  8: 'BACKSPACE',
  11: 'LINE TABULATION',
  12: 'FORM FEED',
  13: 'CARRIAGE RETURN',
  27: 'ESCAPE',
  127: 'DELETE',
  133: 'NEXT LINE',
  160: 'NO-BREAK SPACE',
  173: 'SOFT HYPHEN',
  1564: 'ARABIC LETTER MARK',
  8203: 'ZERO WIDTH SPACE',
  8204: 'ZERO WIDTH NON-JOINER',
  8205: 'ZERO WIDTH JOINER',
  8206: 'LEFT-TO-RIGHT MARK',
  8207: 'RIGHT-TO-LEFT MARK',
  8232: 'LINE SEPARATOR',
  8233: 'PARAGRAPH SEPARATOR',
  8234: 'LEFT-TO-RIGHT EMBEDDING',
  8235: 'RIGHT-TO-LEFT EMBEDDING',
  8236: 'POP DIRECTIONAL FORMATTING',
  8237: 'LEFT-TO-RIGHT OVERRIDE',
  8238: 'RIGHT-TO-LEFT OVERRIDE',
  8288: 'WORD JOINER',
  8294: 'LEFT-TO-RIGHT ISOLATE',
  8295: 'RIGHT-TO-LEFT ISOLATE',
  8296: 'FIRST STRONG ISOLATE',
  8297: 'POP DIRECTIONAL ISOLATE',
  65279: 'ZERO WIDTH NO-BREAK SPACE',
};

/** Why `codePoint` must be escaped, or null when it shows as what it is. */
export function hiddenKind(codePoint: number): HiddenKind | null {
  if (codePoint >= 0xd800 && codePoint <= 0xdfff) return 'surrogate';
  // Everything below U+00A0 but the controls is printable ASCII/Latin-1: the common case, fast.
  if (codePoint >= 0x20 && codePoint < 0x7f) return null;
  if (codePoint === 0x09 || codePoint === 0x0a) return null;
  for (const [from, to, kind] of RANGES) {
    if (codePoint < from) return null;
    if (codePoint <= to) return kind;
  }
  return null;
}

const hex = (n: number, width: number) => n.toString(16).toUpperCase().padStart(width, '0');

/** The escape shown for one hidden code point. */
export function escapeFor(codePoint: number): string {
  if (codePoint === 0x0d) return '\\r';
  if (codePoint <= 0x9f) return `\\x${codePoint.toString(16).padStart(2, '0')}`;
  if (codePoint <= 0xffff) return `\\u${hex(codePoint, 4)}`;
  return `\\u{${hex(codePoint, 5)}}`;
}

function nameOf(codePoint: number, why: HiddenKind): string {
  const u = `U+${hex(codePoint, 4)}`;
  if (why === 'surrogate') return `${u} lone surrogate (not a character)`;
  return NAMES[codePoint] ? `${u} ${NAMES[codePoint]}` : u;
}

/** Quick test for the common case: nothing to escape. */
const SUSPECT = /[^\t\n\x20-\x7e]/;

/** `text` split into runs of plain text and escaped code points, in order. */
export function visibleSegments(text: string): VisibleSegment[] {
  if (!SUSPECT.test(text)) return text === '' ? [] : [{ kind: 'text', text }];
  const out: VisibleSegment[] = [];
  let start = 0;
  let i = 0;
  while (i < text.length) {
    const unit = text.charCodeAt(i);
    let codePoint = unit;
    let width = 1;
    // A high surrogate followed by a low one is one astral code point; any other
    // surrogate is lone (not a character at all) and is escaped.
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        codePoint = 0x10000 + ((unit - 0xd800) << 10) + (next - 0xdc00);
        width = 2;
      }
    }
    const why = hiddenKind(codePoint);
    if (why !== null) {
      if (i > start) out.push({ kind: 'text', text: text.slice(start, i) });
      out.push({ kind: 'escape', text: escapeFor(codePoint), codePoint, why, name: nameOf(codePoint, why) });
      start = i + width;
    }
    i += width;
  }
  if (start < text.length) out.push({ kind: 'text', text: text.slice(start) });
  return out;
}

/** `text` with every hidden character escaped, and whether there was one. */
export function visibleText(text: string): VisibleText {
  const segments = visibleSegments(text);
  return { text: segments.map((s) => s.text).join(''), hidden: segments.some((s) => s.kind === 'escape') };
}

/** True when `text` holds a character that `visibleText` would escape. */
export function hasHiddenCharacters(text: string): boolean {
  return SUSPECT.test(text) && visibleSegments(text).some((s) => s.kind === 'escape');
}

/** True when any string (value or key) inside `value` holds a hidden character. */
export function hasHiddenDeep(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return hasHiddenCharacters(value);
  if (value === null || typeof value !== 'object' || depth > 200) return false;
  if (Array.isArray(value)) return value.some((v) => hasHiddenDeep(v, depth + 1));
  return Object.entries(value).some(([k, v]) => hasHiddenCharacters(k) || hasHiddenDeep(v, depth + 1));
}

/** The names of the hidden characters inside `value` (strings and keys), each once, at most `limit`. */
export function hiddenNamesDeep(value: unknown, limit = 5): string[] {
  const names = new Set<string>();
  const walk = (v: unknown, depth: number): void => {
    if (names.size >= limit) return;
    if (typeof v === 'string') {
      if (!SUSPECT.test(v)) return;
      for (const s of visibleSegments(v)) if (s.kind === 'escape' && names.size < limit) names.add(s.name);
      return;
    }
    if (v === null || typeof v !== 'object' || depth > 200) return;
    if (Array.isArray(v)) for (const x of v) walk(x, depth + 1);
    else
      for (const [k, x] of Object.entries(v)) {
        walk(k, depth + 1);
        walk(x, depth + 1);
      }
  };
  walk(value, 0);
  return [...names];
}

/**
 * `JSON.stringify(value, null, indent)` with every hidden character written as a JSON
 * `\uXXXX` escape (astral ones as their surrogate pair), so the text shows no hidden
 * character and still parses to exactly `value`: the edit box starts from it.
 */
export function visibleJson(value: unknown, indent = 2): string {
  const json = JSON.stringify(value, null, indent) ?? '';
  return visibleSegments(json)
    .map((s) => {
      if (s.kind === 'text') return s.text;
      if (s.codePoint <= 0xffff) return `\\u${hex(s.codePoint, 4)}`;
      const v = s.codePoint - 0x10000;
      return `\\u${hex(0xd800 + (v >> 10), 4)}\\u${hex(0xdc00 + (v & 0x3ff), 4)}`;
    })
    .join('');
}
