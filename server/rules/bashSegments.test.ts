import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
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
      fc.property(fc.string({ maxLength: 30 }).filter((text) => !text.includes("'")), (text) => {
        expect(words(`echo '${text}'`)).toEqual([['echo', text]]);
      }),
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

  it('RULE-2: commands nested in $(…) and backticks, at any depth, are segments of their own', () => {
    fc.assert(
      fc.property(simpleCommand, simpleCommand, fc.integer({ min: 1, max: 4 }), fc.boolean(), (outer, inner, depth, quoted) => {
        let text = inner.join(' ');
        for (let level = 0; level < depth; level += 1) text = level % 2 === 0 ? `echo $(${text})` : `echo \`${text}\``;
        // Inside double quotes a substitution is still run.
        const split = splitCommand(quoted ? `${outer.join(' ')} "$(${text})"` : `${outer.join(' ')} ${text}`);
        expect(split.ok).toBe(true);
        if (split.ok) expect(split.segments.map((segment) => segment.words)).toContainEqual(inner);
      }),
      FC,
    );
  });

  it('RULE-2: never throws, whatever the input', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60, unit: fc.constantFrom('a', ' ', '$', '(', ')', '`', "'", '"', '\\', ';', '&', '|', '<', '>', '\n', '#') }), (text) => {
        const split = splitCommand(text);
        expect(typeof split.ok).toBe('boolean');
      }),
      { numRuns: 2000, seed: 7 },
    );
  });

  it('RULE-2: unterminated quotes and substitutions, and here-documents, are unreadable', () => {
    for (const bad of ["echo 'x", 'echo "x', 'echo $(ls', 'echo `ls', 'cat <<EOF\nx\nEOF', 'ls )', 'a\\']) expect(splitCommand(bad).ok).toBe(false);
  });

  it('RULE-2: the substitution leaves a placeholder in the outer word', () => {
    expect(words('git log $(rm -rf x)')).toEqual([['rm', '-rf', 'x'], ['git', 'log', SUBSTITUTION]]);
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
  it('RULE-6: ANSI-C quoting ($\'…\') is unreadable, so no rule covers it', () => {
    const hidden = "git status $'\\'' ; rm -rf / ; echo \\'";
    expect(splitCommand(hidden).ok).toBe(false);
    expect(commandCoveredBy(hidden, 'git status')).toBe(false);
    expect(commandCoveredBy("echo $'a\\tb'", 'echo')).toBe(false);
  });
});
