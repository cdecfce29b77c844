/**
 * The best-effort Bash reader (deny side; docs/rules.md "What deny rules cannot promise").
 * It never refuses: whatever the text, it yields the simple commands it can see, including
 * those inside `$(…)`, backticks (nested ones too: inside backticks "\`" starts one),
 * `${…}`, `$((…))`, `$[…]`, `<(…)`, `>(…)`, groups and compound commands, and decodes
 * ANSI-C quoting. A deny rule is matched against these; seeing more than bash runs only
 * denies more. It follows bash where a wrong guess would hide a command: blanks are only
 * space and tab (a carriage return is part of a word), `#` starts a comment only at the
 * start of a word, a backslash-newline joins lines.
 */
import type { Segment } from './bashSegments.ts';

/** Stands in for a substitution inside a word: its commands are segments of their own. */
export const SUBSTITUTION = '$()';

const BENIGN_TARGET = /^(\/dev\/null|&?\d+-?|&-|-)$/;
const MAX_DEPTH = 50;

export function lenientSegments(command: string): Segment[] {
  const out: Segment[] = [];
  scan(command, 0, undefined, out, 0);
  return out;
}

type Terminator = ')' | '}' | ']' | undefined;

/** Scans from `start` until `terminator` (at depth 0 of its own brackets) or the end;
 *  returns the index just past it. Segments found (at any depth) go to `out`. */
function scan(src: string, start: number, terminator: Terminator, out: Segment[], depth: number): number {
  let current: Segment = { words: [], unsafeRedirect: false };
  let word: string | null = null;
  let pendingRedirect = false;
  let brackets = 0;

  const add = (text: string) => {
    word = (word ?? '') + text;
  };
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
  /** A nested command (substitution, `${…}`): its segments are its own; the word keeps a placeholder. */
  const nested = (from: number, term: Exclude<Terminator, undefined>) => {
    add(SUBSTITUTION);
    if (depth >= MAX_DEPTH) return src.length;
    return scan(src, from, term, out, depth + 1);
  };
  const backtick = (from: number, inDouble: boolean) => {
    const { body, end } = backtickBody(src, from, inDouble);
    add(SUBSTITUTION);
    if (depth < MAX_DEPTH) scan(body, 0, undefined, out, depth + 1);
    return end;
  };

  let i = start;
  // `src[i]` is undefined exactly when i reaches the end: the loop reads every character.
  for (let c = src[i]; c !== undefined; c = src[i]) {
    const next = src[i + 1];
    if (terminator && brackets === 0 && c === terminator) {
      finishSegment();
      return i + 1;
    }
    switch (c) {
      case '\\':
        if (next === undefined) i += 1;
        else {
          if (next !== '\n') add(next);
          i += 2;
        }
        continue;
      case "'": {
        const close = src.indexOf("'", i + 1);
        const end = close < 0 ? src.length : close;
        add(src.slice(i + 1, end));
        i = end + 1;
        continue;
      }
      case '"':
        i = doubleQuoted(i + 1);
        continue;
      case '$':
        if (next === "'") {
          const { text, end } = ansiC(src, i + 2);
          add(text);
          i = end;
          continue;
        }
        if (next === '"') {
          i = doubleQuoted(i + 2);
          continue;
        }
        if (next === '(') {
          i = nested(i + 2, ')');
          continue;
        }
        if (next === '{') {
          i = nested(i + 2, '}');
          continue;
        }
        if (next === '[') {
          i = nested(i + 2, ']');
          continue;
        }
        add(c);
        i += 1;
        continue;
      case '`':
        i = backtick(i + 1, false);
        continue;
      case '<':
      case '>': {
        if (next === '(') {
          i = nested(i + 2, ')');
          continue;
        }
        if (word !== null && /^\d+$/.test(word)) word = null;
        finishWord();
        pendingRedirect = true;
        i += 1;
        while (src[i] === '<' || src[i] === '>' || src[i] === '&' || src[i] === '|') i += 1;
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
      case ';':
      case '\n':
        finishSegment();
        i += 1;
        continue;
      case '(':
        if (terminator === ')') brackets += 1;
        finishSegment();
        i += 1;
        continue;
      case ')':
        if (brackets > 0) brackets -= 1;
        finishSegment();
        i += 1;
        continue;
      case '{':
      case '[':
        if (c === terminatorOpen(terminator)) brackets += 1;
        add(c);
        i += 1;
        continue;
      case '}':
      case ']':
        if (c === terminator && brackets > 0) brackets -= 1;
        add(c);
        i += 1;
        continue;
      case ' ':
      case '\t':
        finishWord();
        i += 1;
        continue;
      case '#':
        if (word === null) {
          while (i < src.length && src[i] !== '\n') i += 1;
          continue;
        }
        add(c);
        i += 1;
        continue;
      default:
        add(c);
        i += 1;
    }
  }
  finishSegment();
  return i;

  function doubleQuoted(from: number): number {
    let j = from;
    let text = '';
    while (j < src.length) {
      const d = src[j];
      if (d === '"') {
        add(text);
        return j + 1;
      }
      if (d === '\\') {
        const e = src[j + 1];
        if (e === '$' || e === '`' || e === '"' || e === '\\') text += e;
        else if (e !== '\n' && e !== undefined) text += d + e;
        j += 2;
      } else if (d === '$' && (src[j + 1] === '(' || src[j + 1] === '{' || src[j + 1] === '[')) {
        add(text);
        text = '';
        const term = src[j + 1] === '(' ? ')' : src[j + 1] === '{' ? '}' : ']';
        j = nested(j + 2, term);
      } else if (d === '`') {
        add(text);
        text = '';
        j = backtick(j + 1, true);
      } else {
        text += d;
        j += 1;
      }
    }
    add(text);
    return j;
  }
}

function terminatorOpen(terminator: Terminator): string | undefined {
  return terminator === ')' ? '(' : terminator === '}' ? '{' : terminator === ']' ? '[' : undefined;
}

/** The text of a backtick substitution from just after its opening backtick, as bash
 *  passes it to the nested parser: `\\`, "\`" and `\$` (and `\"` inside double quotes)
 *  lose their backslash, so "\`" inside is a nested substitution. */
function backtickBody(src: string, from: number, inDouble: boolean): { body: string; end: number } {
  let body = '';
  let j = from;
  while (j < src.length) {
    const d = src[j];
    if (d === '`') return { body, end: j + 1 };
    if (d === '\\' && j + 1 < src.length) {
      const e = src[j + 1];
      if (e === '`' || e === '\\' || e === '$' || (inDouble && e === '"')) body += e;
      else body += d + e;
      j += 2;
      continue;
    }
    body += d;
    j += 1;
  }
  return { body, end: j };
}

/** Decodes `$'…'` from just after its opening quote (bash "QUOTING"). */
function ansiC(src: string, from: number): { text: string; end: number } {
  let text = '';
  let j = from;
  const simple: Record<string, string> = {
    a: '\x07',
    b: '\b',
    e: '\x1b',
    E: '\x1b',
    f: '\f',
    n: '\n',
    r: '\r',
    t: '\t',
    v: '\v',
    '\\': '\\',
    "'": "'",
    '"': '"',
    '?': '?',
  };
  while (j < src.length) {
    const d = src[j];
    if (d === "'") return { text, end: j + 1 };
    if (d !== '\\') {
      text += d;
      j += 1;
      continue;
    }
    const e = src[j + 1];
    if (e === undefined) {
      j += 1;
      continue;
    }
    if (simple[e] !== undefined) {
      text += simple[e];
      j += 2;
      continue;
    }
    const octal = /^[0-7]{1,3}/.exec(src.slice(j + 1, j + 4));
    const hex = e === 'x' ? /^[0-9a-fA-F]{1,2}/.exec(src.slice(j + 2, j + 4)) : null;
    const uni = e === 'u' ? /^[0-9a-fA-F]{1,4}/.exec(src.slice(j + 2, j + 6)) : e === 'U' ? /^[0-9a-fA-F]{1,8}/.exec(src.slice(j + 2, j + 10)) : null;
    if (octal) {
      text += String.fromCharCode(parseInt(octal[0], 8) & 0xff);
      j += 1 + octal[0].length;
    } else if (hex) {
      text += String.fromCharCode(parseInt(hex[0], 16));
      j += 2 + hex[0].length;
    } else if (uni) {
      const code = parseInt(uni[0], 16);
      text += code <= 0x10ffff ? String.fromCodePoint(code) : '';
      j += 2 + uni[0].length;
    } else if (e === 'c' && j + 2 < src.length) {
      text += String.fromCharCode(src.charCodeAt(j + 2) & 0x1f);
      j += 3;
    } else {
      text += d + e;
      j += 2;
    }
  }
  return { text, end: j };
}
