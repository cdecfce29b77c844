/**
 * Splits a shell command into the simple commands ("segments") it would run, so that a
 * remembered Bash rule can require that EVERY segment matches. Splits on `&&`, `||`,
 * `;`, `|`, `&`, newlines, parentheses, and pulls out the commands inside `$(…)`,
 * `<(…)`, `>(…)` and backticks (also inside double quotes), respecting single quotes,
 * double quotes and backslash escapes. Each segment is a list of words with quotes
 * removed. Anything it cannot read with certainty (an unterminated quote or
 * substitution, a here-document) is `ok: false`: a rule never covers it.
 */

export type Segment = {
  words: string[];
  /** A redirection to something other than /dev/null or a file descriptor. */
  unsafeRedirect: boolean;
};

export type SplitResult = { ok: true; segments: Segment[] } | { ok: false; reason: string };

/** Stands in for a substitution inside a word: its commands are segments of their own. */
export const SUBSTITUTION = '$()';

class SplitError extends Error {}

const BENIGN_TARGET = /^(\/dev\/null|&?\d+|&-|-)$/;

export function splitCommand(command: string): SplitResult {
  const segments: Segment[] = [];
  try {
    const end = scan(command, 0, undefined, segments, 0);
    if (end !== command.length) throw new SplitError('unexpected end');
  } catch (error) {
    if (error instanceof SplitError) return { ok: false, reason: error.message };
    throw error;
  }
  return { ok: true, segments };
}

/** Scans from `start` until `terminator` (`)` or a backtick) or the end; returns the index
 *  just past the terminator. Segments found (at any depth) go to `out`. */
function scan(src: string, start: number, terminator: ')' | '`' | undefined, out: Segment[], depth: number): number {
  if (depth > 50) throw new SplitError('nested too deeply');
  let current: Segment = { words: [], unsafeRedirect: false };
  let word: string | null = null;
  let pendingRedirect = false;
  let parens = 0;

  const finishWord = () => {
    if (word === null) return;
    if (pendingRedirect) {
      if (!BENIGN_TARGET.test(word)) current.unsafeRedirect = true;
      pendingRedirect = false;
    } else current.words.push(word);
    word = null;
  };
  const finishSegment = () => {
    finishWord();
    if (pendingRedirect) {
      current.unsafeRedirect = true;
      pendingRedirect = false;
    }
    if (current.words.length || current.unsafeRedirect) out.push(current);
    current = { words: [], unsafeRedirect: false };
  };
  const nested = (from: number, term: ')' | '`') => {
    const after = scan(src, from, term, out, depth + 1);
    word = (word ?? '') + SUBSTITUTION;
    return after;
  };

  let i = start;
  while (i < src.length) {
    const c = src[i];
    const next = src[i + 1];
    if (terminator === '`' && c === '`') {
      finishSegment();
      return i + 1;
    }
    switch (c) {
      case '\\':
        if (next === undefined) throw new SplitError('a trailing backslash');
        if (next !== '\n') word = (word ?? '') + next;
        i += 2;
        continue;
      case "'": {
        const close = src.indexOf("'", i + 1);
        if (close < 0) throw new SplitError('an unterminated single quote');
        word = (word ?? '') + src.slice(i + 1, close);
        i = close + 1;
        continue;
      }
      case '"': {
        i += 1;
        let text = '';
        for (;;) {
          if (i >= src.length) throw new SplitError('an unterminated double quote');
          const d = src[i];
          if (d === '"') {
            i += 1;
            break;
          }
          if (d === '\\') {
            const e = src[i + 1];
            if (e === undefined) throw new SplitError('an unterminated double quote');
            if (e === '$' || e === '`' || e === '"' || e === '\\') text += e;
            else if (e !== '\n') text += d + e;
            i += 2;
          } else if (d === '$' && src[i + 1] === '(') {
            word = (word ?? '') + text;
            text = '';
            i = nested(i + 2, ')');
          } else if (d === '`') {
            word = (word ?? '') + text;
            text = '';
            i = nested(i + 1, '`');
          } else {
            text += d;
            i += 1;
          }
        }
        word = (word ?? '') + text;
        continue;
      }
      case '$':
        // ANSI-C quoting: inside $'…' a backslash escapes a quote, so the quote that ends
        // it is not the next one. Rather than model it, refuse: no rule covers such a
        // command, and a human sees it.
        if (next === "'") throw new SplitError("ANSI-C quoting ($'…')");
        if (next === '(') {
          i = nested(i + 2, ')');
          continue;
        }
        word = (word ?? '') + c;
        i += 1;
        continue;
      case '`':
        i = nested(i + 1, '`');
        continue;
      case '<':
      case '>': {
        if (next === '(') {
          i = nested(i + 2, ')');
          continue;
        }
        if (c === '<' && next === '<') throw new SplitError('a here-document or here-string');
        // `2>`: the digits before are a file descriptor, not a word.
        if (word !== null && /^\d+$/.test(word)) word = null;
        finishWord();
        pendingRedirect = true;
        i += 1;
        if (src[i] === '>' || src[i] === '&' || src[i] === '|') i += 1;
        continue;
      }
      case '&':
        if (next === '>') {
          finishWord();
          pendingRedirect = true;
          i += src[i + 2] === '>' ? 3 : 2;
          continue;
        }
        finishSegment();
        i += next === '&' ? 2 : 1;
        continue;
      case '|':
        finishSegment();
        i += next === '|' || next === '&' ? 2 : 1;
        continue;
      case ';':
      case '\n':
        finishSegment();
        i += 1;
        continue;
      case '(':
        finishSegment();
        parens += 1;
        i += 1;
        continue;
      case ')':
        finishSegment();
        if (parens > 0) {
          parens -= 1;
          i += 1;
          continue;
        }
        if (terminator === ')') return i + 1;
        throw new SplitError('an unbalanced ")"');
      case ' ':
      case '\t':
      case '\r':
        finishWord();
        i += 1;
        continue;
      case '#':
        if (word === null) {
          while (i < src.length && src[i] !== '\n') i += 1;
          continue;
        }
        word += c;
        i += 1;
        continue;
      default:
        word = (word ?? '') + c;
        i += 1;
    }
  }
  if (terminator) throw new SplitError(terminator === ')' ? 'an unterminated $(' : 'an unterminated backtick');
  if (parens > 0) throw new SplitError('an unbalanced "("');
  finishSegment();
  return i;
}

/** Words of a rule's prefix (split the same way; must be one simple segment). */
export function prefixWords(prefix: string): string[] | undefined {
  const split = splitCommand(prefix);
  if (!split.ok || split.segments.length !== 1 || split.segments[0].unsafeRedirect) return undefined;
  return split.segments[0].words;
}

/** Does `segment` start with `prefix` at a word boundary? */
export function segmentMatches(segment: Segment, prefix: readonly string[]): boolean {
  if (segment.unsafeRedirect || prefix.length === 0 || segment.words.length < prefix.length) return false;
  return prefix.every((word, index) => segment.words[index] === word);
}

/** Does ANY segment start with the prefix's words (a redirect does not hide it)? For deny
 *  rules: the words are compared as split, never joined and split again. */
export function anySegmentStartsWith(command: string, prefix: string): boolean {
  const words = prefixWords(prefix);
  if (!words || words.length === 0) return false;
  const split = splitCommand(command);
  if (!split.ok) return false;
  return split.segments.some((segment) => segment.words.length >= words.length && words.every((word, index) => segment.words[index] === word));
}

/** An allow rule covers a command only if EVERY segment matches its prefix. */
export function commandCoveredBy(command: string, prefix: string): boolean {
  const words = prefixWords(prefix);
  if (!words) return false;
  const split = splitCommand(command);
  if (!split.ok || split.segments.length === 0) return false;
  return split.segments.every((segment) => segmentMatches(segment, words));
}
