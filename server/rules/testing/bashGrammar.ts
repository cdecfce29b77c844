/**
 * A seeded generator of Bash command lines for the differential suite. It mixes plain
 * commands built from the rules' words (so that many cases ARE readable and covered) with
 * every construct the fail-closed reader must refuse: expansions that run code, backticks
 * (nested with escapes), ANSI-C and locale quoting, here-documents and here-strings,
 * process substitution, line continuations, groups, compound commands and reserved words,
 * `|&`, `;;`, globs, braces, `~`, comments, control, bidi and zero-width characters, and
 * builtins that run code. The payload of every attack is a call of the stub `pwned`. No
 * absolute program path, no `cd`, no `..`: every file it names is in the working folder.
 */

/** The allow rules the suite checks every case against. */
export const RULES = ['git status', 'ls', 'echo hi', 'npm test', 'git log'] as const;

/** mulberry32: small, fast, and the same sequence for a seed everywhere. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rng = () => number;
const pick = <T>(rng: Rng, items: readonly T[]): T => {
  const item = items[Math.floor(rng() * items.length)];
  if (item === undefined) throw new Error('pick: an empty list');
  return item;
};
const chance = (rng: Rng, p: number) => rng() < p;

const HOME_WORDS: Record<(typeof RULES)[number], string[]> = {
  'git status': ['git status', 'git "status"', "git 'status'", 'git st\\atus', 'g"i"t status', 'git\tstatus', '\\git status'],
  ls: ['ls', '"ls"', "l's'", '\\ls'],
  'echo hi': ['echo hi', 'echo "hi"', "echo 'h'i", 'echo h\\i'],
  'npm test': ['npm test', 'npm "test"'],
  'git log': ['git log', 'git "log"'],
};

const ARGS = [
  '-la',
  '--short',
  'src',
  'a.txt',
  '-5',
  'x=1',
  '--oneline',
  'hi',
  'there',
  '"a b"',
  "'c d'",
  '"$X"',
  '$X',
  '${X}',
  '$Y',
  '"$Y"',
  '$E',
  '"$E"',
  '$S',
  '$D',
  '"$HOME"',
  '"$HOME"/x',
  'a"b"c',
  '\\;',
  '\\&',
  '\\|',
  'a#b',
  '@%^,:+',
  '"a;b"',
  "'x|y'",
  '"$U"',
  '$U',
  '$IND',
  '"$PR"',
  '$AR',
  '$G',
  '"$G"',
  '--',
  '-',
  '"${X}y"',
  '$X$Y',
  '"it\'s"',
  '"a\\"b"',
  '"\\$X"',
  "'$X'",
  '\\$X',
  '"\\\\"',
  'x]',
  '=',
  '"!"',
  "'*'",
  '"~"',
  '"#"',
  '"\\`x\\`"',
  '"a\tb"',
  "'new\nline'",
  // Near misses: readable words that look like something else.
  '1A=x',
  '"if"',
  '\\#x',
  'x\\ y',
  'caf\u00e9',
  '\u65e5\u672c',
  '=x',
  "''",
  '""',
  '""#x',
  '\'a\'"b"\\c',
  '%1',
  '^x',
  'a=b=c',
  '-',
  '\\-',
  '"$X"$Y\'z\'\\w',
  '$X"$E"',
  '"$E"$E',
];

const REDIRECTS = [
  ' 2>&1',
  ' >/dev/null',
  ' 2>/dev/null',
  ' >&2',
  ' &>/dev/null',
  ' >&/dev/null',
  ' </dev/null',
  ' 2>&-',
  ' 1>&2',
  ' > out.txt',
  ' >> out.txt',
  ' < in.txt',
  ' 3>&1',
  ' >&3',
  ' 2>&1-',
  ' >|out.txt',
  ' <>/dev/null',
  ' 2>"/dev/null"',
  ' >$X',
  ' 2>&$X',
  '>/dev/null',
  ' 2>/dev/null/x',
];

const ASSIGNMENTS = ['A=1 ', 'S=x ', 'GIT_DIR=x ', 'X= ', 'PATH=x ', 'A=$X ', 'A+=1 ', '>/dev/null ', '2>&1 ', '"A=1" ', "'' ", '\\A=1 '];

const OPERATORS = [' ; ', ';', ' && ', '&&', ' || ', ' | ', '|', ' & ', '\n', ';\n', ' &&\n', ' |\n', '\n\n', '\t&&\t', ' ||\n '];

const FOREIGN = [
  'pwned',
  'pwned -x',
  'touch x',
  'rm -rf x',
  'curl evil',
  'cat a.txt',
  'false',
  'true',
  'sh -c pwned',
  'env pwned',
  'sudo pwned',
  'nohup pwned',
  'timeout 1 pwned',
];

/** Inline attacks: words that run `pwned` (or expand) when bash reads them. */
const INLINE = [
  '$(pwned)',
  '`pwned`',
  '"$(pwned)"',
  '"`pwned`"',
  '${a:=$(pwned)}',
  "${a:='x[$(pwned)]'} ${x[a]}",
  '${!IND}',
  '${PR@P}',
  '$[AR]',
  '$((AR))',
  '${x[AR]}',
  '"${x[AR]}"',
  '$[$(pwned)]',
  "$'\\x3b'",
  "$'a\\'' ; pwned ; echo \\'",
  '<(pwned)',
  '>(pwned)',
  '`git status \\`pwned\\``',
  '"`git status \\`pwned\\``"',
  '"${U:-$(pwned)}"',
  '${U-`pwned`}',
  '~',
  '~/x',
  '*',
  '?',
  '[a]',
  '{a,b}',
  '{1..2}',
  '$"x"',
  '$0',
  '$$',
  '$#',
  '$@',
  '"$@"',
  '$1',
  '$?',
  '$-',
  '$!',
  '$_',
  '${#X}',
  '${X/l/$(pwned)}',
  '${X:0:1}',
  '${X^^}',
  '${X@Q}',
  '$(( $(pwned) ))',
  '$(<in.txt)',
  "$'\\u202e'",
  '$X[1]',
  '"$X[1]"',
  '${X}[a]',
];

/** Whole segments that run `pwned` in some bash construct. */
const COMPOUND = [
  '{ pwned; }',
  '(pwned)',
  'if pwned; then :; fi',
  'for i in 1; do pwned; done',
  'while pwned; do break; done',
  'until pwned; do break; done',
  'case x in x) pwned;; esac',
  'f() { pwned; }; f',
  'function f { pwned; }; f',
  '[[ $(pwned) ]]',
  '(( $(pwned) ))',
  '! pwned',
  'time pwned',
  'coproc pwned',
  'cat <<EOF\n$(pwned)\nEOF',
  'cat <<< $(pwned)',
  'cat <<-EOF\n\t`pwned`\n\tEOF',
  'eval pwned',
  "eval '$(pwned)'",
  'printf pwned > f; . ./f',
  'source ./f',
  'trap pwned EXIT',
  'exec pwned',
  'command pwned',
  'builtin eval pwned',
  "test -v 'x[$(pwned)]'",
  "[ -v 'x[$(pwned)]' ]",
  "printf -v 'x[$(pwned)]' 1",
  "declare 'x[$(pwned)]=1'",
  "unset 'x[$(pwned)]'",
  "let 'x[$(pwned)]'",
  "read 'x[$(pwned)]' </dev/null",
  "export 'x[$(pwned)]=1'",
  'git status |& pwned',
  'git status \\\n; pwned',
  'git status \r#; pwned',
  'git status \r; pwned',
  'ls;;pwned',
  'select x in 1; do pwned; done </dev/null',
  'a=(1 $(pwned))',
  'x[$(pwned)]=1',
  'A=$(pwned) ls',
  'ls #\npwned',
  'git status # ; pwned',
  'alias ls=pwned',
  'printf pwned > g; hash -p ./g ls; ls',
  'enable -n ls',
  'type pwned',
  'local x',
  'shopt -s expand_aliases',
  'set -o',
  'mapfile -C pwned -c 1 x </dev/null',
  '. /dev/null',
];

/** Characters inserted at random places: each changes how bash reads the line. */
const INSERTIONS = [
  '\r',
  '#',
  '\\\n',
  ' #',
  '\u202e',
  '\u200b',
  '\u2066',
  '\ufeff',
  '\x1b',
  '\x7f',
  '\u0085',
  '\u00a0',
  '\v',
  '\f',
  '(',
  ')',
  '{',
  '}',
  '`',
  "'",
  '"',
  '$',
  ';',
  '&',
  '|',
  '<',
  '>',
  '\n',
  '*',
  '~',
  '!',
  ' ',
  '\\',
  '=',
  '[',
  ']',
  '\t',
  '$(',
  '${',
  '&>',
  '<<',
  '2>',
  ';;',
  '|&',
];

function segment(rng: Rng, home: (typeof RULES)[number]): string {
  let words: string;
  const roll = rng();
  if (roll < 0.72) words = pick(rng, HOME_WORDS[home]);
  else if (roll < 0.85) words = pick(rng, HOME_WORDS[pick(rng, RULES)]);
  else words = pick(rng, FOREIGN);
  const args = Math.floor(rng() * 4);
  for (let k = 0; k < args; k += 1) words += ` ${pick(rng, ARGS)}`;
  if (chance(rng, 0.25)) words += pick(rng, REDIRECTS);
  if (chance(rng, 0.07)) words = pick(rng, ASSIGNMENTS) + words;
  return words;
}

export function generateCommand(rng: Rng): string {
  const home = pick(rng, RULES);
  const count = 1 + Math.floor(rng() * 3);
  const parts = Array.from({ length: count }, () => segment(rng, home));
  if (chance(rng, 0.5)) {
    const roll = rng();
    if (roll < 0.35) {
      const at = Math.floor(rng() * parts.length);
      parts[at] += ` ${pick(rng, INLINE)}`;
    } else if (roll < 0.6) parts.splice(Math.floor(rng() * (parts.length + 1)), 0, pick(rng, COMPOUND));
    // Rare: each one costs the per-case time bound (2 s).
    else if (roll < 0.6005) parts.push('while :; do :; done');
  }
  let text = parts[0];
  for (let k = 1; k < parts.length; k += 1) text += pick(rng, OPERATORS) + parts[k];
  if (chance(rng, 0.04)) text += pick(rng, [';', ' &', '\n', ' ;']);
  if (chance(rng, 0.3)) {
    const at = Math.floor(rng() * (text!.length + 1));
    text =
      text!.slice(0, at) +
      pick(rng, INSERTIONS) +
      (chance(rng, 0.5) ? pick(rng, [' pwned', '; pwned', 'pwned', '\npwned', ' $(pwned)', '`pwned`']) : '') +
      text!.slice(at);
  }
  return text!.replace(/\0/g, '');
}
