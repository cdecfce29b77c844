/**
 * The fail-closed Bash reader (allow side; SPEC "Bash reading", docs/rules.md "Reading Bash
 * commands"). It says `ok: true` only when the command reads, for sure, as literal words,
 * plain operators (`;`, `&&`, `||`, `|`, `&`, newline), quotes that expand nothing, plain
 * `$NAME` / `${NAME}`, and redirections. Everything else is `ok: false` with a reason naming
 * the construct, so that no rule covers it and a human sees it. The reader models bash's
 * own grammar (blanks are only space and tab; `#` starts a comment only at a word start;
 * reserved words only in command position), and refuses rather than guesses.
 */

/** A piece of a word: literal text, or a plain variable `$NAME` / `${NAME}`. `quoted`:
 *  inside quotes or escaped (so never split, globbed or taken as a reserved word). */
export type WordPart = { kind: 'text'; text: string; quoted: boolean } | { kind: 'var'; name: string; quoted: boolean };

export type Word = {
  /** The word as a rule compares it: the text, with each variable written `$NAME`. */
  text: string;
  parts: WordPart[];
  /** No variable in it: bash passes exactly `text`. */
  literal: boolean;
};

export type RedirectOp = '<' | '>' | '>>' | '>|' | '<>' | '&>' | '&>>' | '>&' | '<&';

export type Redirect = {
  /** The descriptor written before the operator (`2>`), if any. */
  fd: number | undefined;
  op: RedirectOp;
  target: Word;
  /** To or from /dev/null, or between descriptors (`2>&1`, `>&-`): touches no file. */
  safe: boolean;
};

export type SimpleCommand = { words: Word[]; redirects: Redirect[] };
export type Pipeline = SimpleCommand[];
export type AndOrList = { first: Pipeline; rest: { op: '&&' | '||'; pipeline: Pipeline }[]; background: boolean };
export type ReadResult = { ok: true; lists: AndOrList[] } | { ok: false; reason: string };

class Unreadable extends Error {}
// A declaration, not an arrow: TypeScript narrows after a call only to a declared `never` function.
function refuse(reason: string): never {
  throw new Unreadable(reason);
}

/** Reserved words (bash "RESERVED WORDS"), refused in command position. */
export const RESERVED_WORDS: ReadonlySet<string> = new Set([
  '!',
  'case',
  'coproc',
  'do',
  'done',
  'elif',
  'else',
  'esac',
  'fi',
  'for',
  'function',
  'if',
  'in',
  'select',
  'then',
  'until',
  'while',
  '{',
  '}',
  'time',
  '[[',
  ']]',
]);

const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*\+?=/;

/** Characters a human may not see, or that a terminal or bash treats unlike they look.
 *  Tab and newline are the only controls a readable command may hold. */
const INVISIBLE =
  /[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000\u2800\u115f\u1160\u3164\uffa0]/u;

function describeChar(ch: string): string {
  const code = ch.codePointAt(0) ?? 0;
  const hex = `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  const names: Record<number, string> = {
    0: 'NUL',
    13: 'carriage return',
    27: 'escape',
    127: 'delete',
    11: 'vertical tab',
    12: 'form feed',
    8: 'backspace',
    7: 'bell',
    160: 'no-break space',
    65279: 'byte order mark',
    8203: 'zero-width space',
    8204: 'zero-width non-joiner',
    8205: 'zero-width joiner',
    8206: 'left-to-right mark',
    8207: 'right-to-left mark',
    8238: 'right-to-left override',
    8237: 'left-to-right override',
    1564: 'Arabic letter mark',
    8294: 'left-to-right isolate',
    8295: 'right-to-left isolate',
    8296: 'first strong isolate',
    8297: 'pop directional isolate',
    8232: 'line separator',
    8233: 'paragraph separator',
  };
  const name = names[code];
  if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) return `a control character ${hex}${name ? ` (${name})` : ''}`;
  if ((code >= 0x202a && code <= 0x202e) || (code >= 0x2066 && code <= 0x2069) || code === 0x061c || code === 0x200e || code === 0x200f)
    return `a bidirectional control character ${hex}${name ? ` (${name})` : ''}`;
  if (code >= 0xd800 && code <= 0xdfff) return `an unpaired surrogate ${hex}`;
  return `an invisible or format character ${hex}${name ? ` (${name})` : ''}`;
}

/** ASCII characters that a multi-byte locale (GBK, Big5, Shift_JIS: trail bytes
 *  0x40–0x7E) may decode together with the byte before them, and that bash treats
 *  specially. Bash 5.2 keeps them apart (seen in zh_CN.GBK); refusing costs little. */
const JOINED = /[^\x00-\x7f][\\|`{}[\]~^@]/u;
const REFUSED_CHARACTER = new RegExp(`(?![\\t\\n])(?:${INVISIBLE.source.slice(0, -1)}\\p{Cs}])`, 'u');

/** A longer command is unreadable: the reader's work stays bounded per request. */
export const MAX_COMMAND_LENGTH = 100_000;

/** The first character that makes the command unreadable on sight, if any. One regular
 *  expression over the whole text each: fast on long commands. */
export function invisibleCharacter(command: string): string | undefined {
  const refused = REFUSED_CHARACTER.exec(command);
  const joined = JOINED.exec(command);
  if (refused && (!joined || refused.index <= joined.index)) return describeChar(String.fromCodePoint(refused[0].codePointAt(0) ?? 0));
  if (joined)
    return `a non-ASCII character directly before "${joined[0].slice(-1)}" (in a multi-byte locale such as GBK or Shift_JIS the two may decode as one character)`;
  return undefined;
}

type Token =
  | { kind: 'word'; word: Word }
  | { kind: 'op'; op: ';' | '&' | '&&' | '||' | '|' | '\n' }
  | { kind: 'redirect'; fd: number | undefined; op: RedirectOp };

class Builder {
  parts: WordPart[] = [];
  started = false;
  text(text: string, quoted: boolean) {
    this.started = true;
    const last = this.parts[this.parts.length - 1];
    if (last && last.kind === 'text' && last.quoted === quoted) last.text += text;
    else this.parts.push({ kind: 'text', text, quoted });
  }
  variable(name: string, quoted: boolean) {
    this.started = true;
    this.parts.push({ kind: 'var', name, quoted });
  }
  /** All unquoted digits: the descriptor of a following `<` / `>`. */
  descriptor(): number | undefined {
    const [only] = this.parts;
    if (this.parts.length !== 1 || only === undefined) return undefined;
    return only.kind === 'text' && !only.quoted && /^\d+$/.test(only.text) ? Number(only.text) : undefined;
  }
  take(): Word | undefined {
    if (!this.started) return undefined;
    const word = makeWord(this.parts);
    this.parts = [];
    this.started = false;
    return word;
  }
}

function makeWord(parts: WordPart[]): Word {
  let text = '';
  parts.forEach((part, index) => {
    if (part.kind === 'text') text += part.text;
    else {
      const next = parts[index + 1];
      const glued = next?.kind === 'text' && /^[A-Za-z0-9_]/.test(next.text);
      text += glued ? `\${${part.name}}` : `$${part.name}`;
    }
  });
  return { text, parts, literal: parts.every((part) => part.kind === 'text') };
}

/** After a `$` at `i` (inside double quotes or not): the variable it names, or a refusal
 *  naming the expansion. Returns the index after it. */
function readDollar(src: string, i: number, out: Builder, quoted: boolean): number {
  const next = src[i + 1];
  if (next === undefined || (next === '"' && quoted)) refuse('a lone "$"');
  if (next === "'") refuse("ANSI-C quoting ($'…')");
  if (next === '"') refuse('locale quoting ($"…")');
  if (next === '(') refuse(src[i + 2] === '(' ? 'arithmetic expansion $((…))' : 'command substitution $(…)');
  if (next === '[') refuse('arithmetic expansion $[…]');
  if (next === '{') {
    // Sticky expressions read in place: no slicing, so many `$` stay linear.
    BRACED.lastIndex = i + 1;
    const plain = BRACED.exec(src);
    const braced = plain?.[1];
    if (!plain || braced === undefined)
      refuse('a parameter expansion ${…} other than a plain ${NAME} (an operator, a subscript, indirection or a transformation)');
    out.variable(braced, quoted);
    return i + 1 + plain[0].length;
  }
  NAME_AT.lastIndex = i + 1;
  const name = NAME_AT.exec(src);
  if (name) {
    out.variable(name[0], quoted);
    return i + 1 + name[0].length;
  }
  if (/[0-9@*#?$!-]/.test(next)) refuse(`the special parameter $${next}`);
  return refuse('a lone "$"');
}

const BRACED = /\{([A-Za-z_][A-Za-z0-9_]*)\}/y;
const NAME_AT = /[A-Za-z_][A-Za-z0-9_]*/y;

function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  const word = new Builder();
  const finish = () => {
    const taken = word.take();
    if (taken) tokens.push({ kind: 'word', word: taken });
  };
  let i = 0;
  // `src[i]` is undefined exactly when i reaches the end: the loop reads every character.
  for (let c = src[i]; c !== undefined; c = src[i]) {
    const next = src[i + 1];
    switch (c) {
      case ' ':
      case '\t':
        finish();
        i += 1;
        continue;
      case '\n':
        finish();
        tokens.push({ kind: 'op', op: '\n' });
        i += 1;
        continue;
      case ';':
        if (next === ';' || next === '&') refuse(`the case terminator "${c}${next}"`);
        finish();
        tokens.push({ kind: 'op', op: ';' });
        i += 1;
        continue;
      case '&':
        finish();
        if (next === '&') {
          tokens.push({ kind: 'op', op: '&&' });
          i += 2;
        } else if (next === '>') {
          const append = src[i + 2] === '>';
          tokens.push({ kind: 'redirect', fd: undefined, op: append ? '&>>' : '&>' });
          i += append ? 3 : 2;
        } else {
          tokens.push({ kind: 'op', op: '&' });
          i += 1;
        }
        continue;
      case '|':
        if (next === '&') refuse('the pipe "|&"');
        finish();
        tokens.push({ kind: 'op', op: next === '|' ? '||' : '|' });
        i += next === '|' ? 2 : 1;
        continue;
      case '(':
      case ')':
        refuse(`a subshell, group or function definition ("${c}")`);
        break;
      case '<':
      case '>': {
        if (next === '(') refuse(`process substitution ${c}(…)`);
        if (c === '<' && next === '<') refuse(src[i + 2] === '<' ? 'a here-string (<<<)' : 'a here-document (<<)');
        const fd = word.descriptor();
        if (fd !== undefined) word.take();
        else finish();
        let op: RedirectOp;
        if (c === '<') {
          op = next === '&' ? '<&' : next === '>' ? '<>' : '<';
        } else {
          op = next === '>' ? '>>' : next === '&' ? '>&' : next === '|' ? '>|' : '>';
        }
        tokens.push({ kind: 'redirect', fd, op });
        i += op.length;
        continue;
      }
      case "'": {
        const close = src.indexOf("'", i + 1);
        if (close < 0) refuse('an unterminated single quote');
        word.text(src.slice(i + 1, close), true);
        i = close + 1;
        continue;
      }
      case '"':
        i = readDoubleQuoted(src, i + 1, word);
        continue;
      case '\\':
        if (next === undefined) refuse('a trailing backslash');
        if (next === '\n') refuse('a line continuation (backslash-newline)');
        // A backslash quotes the next character (a whole code point).
        {
          const ch = String.fromCodePoint(src.codePointAt(i + 1) ?? 0);
          word.text(ch, true);
          i += 1 + ch.length;
        }
        continue;
      case '$':
        i = readDollar(src, i, word, false);
        continue;
      case '`':
        refuse('command substitution with backticks (`…`)');
        break;
      case '#':
        if (!word.started) refuse('a comment (# at the start of a word)');
        word.text(c, false);
        i += 1;
        continue;
      case '*':
      case '?':
      case '[':
        refuse(`an unquoted glob character "${c}"`);
        break;
      case '{':
      case '}':
        refuse(`an unquoted brace "${c}" (brace expansion or a group)`);
        break;
      case '~':
        // Bash expands a tilde at the start of a word, and after `=` or `:` in a word
        // that looks like an assignment (also as an argument: `make prefix=~/x`);
        // elsewhere (`HEAD~1`) it is a plain character.
        if (!word.started || src[i - 1] === '=' || src[i - 1] === ':') refuse('an unquoted "~" (tilde expansion)');
        word.text(c, false);
        i += 1;
        continue;
      case '!':
        refuse('an unquoted "!" (negation, history or extended glob)');
        break;
      default:
        word.text(c, false);
        i += 1;
    }
  }
  finish();
  return tokens;
}

/** From just after an opening `"`: returns the index after the closing one. */
function readDoubleQuoted(src: string, start: number, word: Builder): number {
  let i = start;
  word.text('', true);
  for (;;) {
    const d = src[i];
    if (d === undefined) refuse('an unterminated double quote');
    if (d === '"') return i + 1;
    if (d === '\\') {
      const e = src[i + 1];
      if (e === undefined) refuse('an unterminated double quote');
      if (e === '\n') refuse('a line continuation (backslash-newline) inside double quotes');
      if (e === '$' || e === '`' || e === '"' || e === '\\') word.text(e, true);
      else word.text(d, true);
      i += e === '$' || e === '`' || e === '"' || e === '\\' ? 2 : 1;
    } else if (d === '$') {
      i = readDollar(src, i, word, true);
    } else if (d === '`') {
      refuse('command substitution with backticks (`…`) inside double quotes');
    } else {
      word.text(d, true);
      i += 1;
    }
  }
}

const isSafeRedirect = (fd: number | undefined, op: RedirectOp, target: Word): boolean => {
  if (!target.literal) return false;
  if (op === '>&' || op === '<&') {
    if (/^(\d+-?|-)$/.test(target.text)) return true;
    // `>&word` is `&>word` only without a descriptor or with 1; `2>&/dev/null` is an
    // "ambiguous redirect" to bash (found by the differential suite).
    return op === '>&' && (fd === undefined || fd === 1) && target.text === '/dev/null';
  }
  return target.text === '/dev/null';
};

/** Reads a whole command line, or says which construct makes it unreadable. */
export function readCommand(command: string): ReadResult {
  try {
    if (command.length > MAX_COMMAND_LENGTH) refuse(`a command longer than ${MAX_COMMAND_LENGTH.toLocaleString('en-US')} characters`);
    const invisible = invisibleCharacter(command);
    if (invisible) refuse(invisible);
    return { ok: true, lists: parse(tokenize(command)) };
  } catch (error) {
    if (error instanceof Unreadable) return { ok: false, reason: error.message };
    throw error;
  }
}

function parse(tokens: Token[]): AndOrList[] {
  const lists: AndOrList[] = [];
  let command: SimpleCommand = { words: [], redirects: [] };
  let pipeline: Pipeline = [];
  let list: AndOrList | undefined;
  let pendingOp: '&&' | '||' | undefined;
  /** After `|`, `&&` or `||`: a command must follow (newlines may come first). */
  let needCommand = false;

  const endCommand = (what: string) => {
    if (command.words.length === 0 && command.redirects.length === 0) refuse(`a missing command before "${what}"`);
    checkCommandPosition(command);
    pipeline.push(command);
    command = { words: [], redirects: [] };
  };
  const endPipeline = (what: string) => {
    endCommand(what);
    if (!list) list = { first: pipeline, rest: [], background: false };
    else list.rest.push({ op: pendingOp!, pipeline });
    pipeline = [];
    pendingOp = undefined;
  };
  const endList = (background: boolean, what: string) => {
    endPipeline(what);
    list!.background = background;
    lists.push(list!);
    list = undefined;
  };
  const empty = () => command.words.length === 0 && command.redirects.length === 0 && pipeline.length === 0 && !list;

  // One iterator: a redirection takes the token after it from the same stream.
  const stream = tokens.values();
  for (const token of stream) {
    switch (token.kind) {
      case 'word':
        command.words.push(token.word);
        needCommand = false;
        break;
      case 'redirect': {
        const target = stream.next().value;
        if (target?.kind !== 'word') refuse(`a redirection "${token.op}" without a target`);
        const word = target.word;
        command.redirects.push({ fd: token.fd, op: token.op, target: word, safe: isSafeRedirect(token.fd, token.op, word) });
        needCommand = false;
        break;
      }
      case 'op': {
        const op = token.op;
        switch (op) {
          case '\n':
            if (needCommand || empty()) break; // blank lines, and a newline after && || |
            endList(false, 'newline');
            break;
          case ';':
          case '&':
            if (needCommand) refuse(`a missing command before "${op}"`);
            endList(op === '&', op);
            break;
          case '|':
            if (needCommand) refuse('a missing command before "|"');
            endCommand('|');
            needCommand = true;
            break;
          case '&&':
          case '||':
            if (needCommand) refuse(`a missing command before "${op}"`);
            endPipeline(op);
            pendingOp = op;
            needCommand = true;
            break;
          default: {
            const never: never = op;
            return never;
          }
        }
        break;
      }
      default: {
        const never: never = token;
        return never;
      }
    }
  }
  if (needCommand) refuse('a missing command at the end');
  if (!empty()) endList(false, 'the end');
  return lists;
}

/** Reserved words are keywords only in command position (after any assignments); there
 *  the reader refuses them rather than model compound commands. */
function checkCommandPosition(command: SimpleCommand) {
  for (const word of command.words) {
    const [only] = word.parts;
    const unquoted = word.parts.length === 1 && only?.kind === 'text' && !only.quoted;
    if (unquoted && RESERVED_WORDS.has(word.text)) refuse(`the reserved word "${word.text}" (a compound command)`);
    if (!isAssignment(word)) return;
  }
}

/** `NAME=value` written plainly before the command: bash assigns it, it is not a word. */
export function isAssignment(word: Word): boolean {
  const first = word.parts[0];
  return !!first && first.kind === 'text' && !first.quoted && ASSIGNMENT.test(first.text);
}

/** Every simple command of the line, in order. */
export function simpleCommands(lists: readonly AndOrList[]): SimpleCommand[] {
  return lists.flatMap((list) => [list.first, ...list.rest.map((link) => link.pipeline)].flat());
}
