/**
 * The Bash reading items of issue 9's "What was seen": each was auto-allowed by a
 * `git status` (or `ls`) rule on the old splitter. Kept as regression pins.
 */
import { describe, expect, it } from 'vitest';
import { anySegmentStartsWith, commandCoveredBy, splitCommand } from './bashSegments.ts';

const SEEN: [string, string][] = [
  ['git status \r#; touch /tmp/x', 'git status'],
  ['git status `git status \\`touch /tmp/x\\``', 'git status'],
  ["ls ${a:='x[$(touch /tmp/x)]'} ${x[a]}", 'ls'],
  ['ls ${!a}', 'ls'],
  ['ls ${a@P}', 'ls'],
  ['ls $[a]', 'ls'],
];

describe('BASH-1: what was seen is unreadable, so no allow rule covers it', () => {
  for (const [command, rule] of SEEN) {
    it(`BASH-1: ${JSON.stringify(command)} is not covered by "${rule}"`, () => {
      expect(splitCommand(command).ok).toBe(false);
      expect(commandCoveredBy(command, rule)).toBe(false);
    });
  }
});

/** Escapes of the old splitter that the differential suite found (BASH-6). */
const FOUND: [string, string][] = [
  ["git 'status' @%^,:+ $[AR] ;", 'git status'],
  ["npm test 'x|y' \"$Y\" '$X' ${!IND}", 'npm test'],
  ['\\ls $[AR]', 'ls'],
  ['git st\\atus $S "${x[AR]}"', 'git status'],
  ['ls "$HOME"/x ${PR@P}', 'ls'],
  ["echo hi 'new\nline' 2>&1 ${PR@P};echo h\\i $AR \"it's\"", 'echo hi'],
  ['git st\\atus "a\\"b" &&\ng"i"t status ${X} `git status \\`pwned\\`` | git "status" \'x|y\' "${X}y"', 'git status'],
  ['g"i"t status "\\\\" a#b ${\\\na:=\'x[$(pwned)]\'} ${x[a]}', 'git status'],
];

describe('BASH-6: escapes the differential suite found are pinned', () => {
  for (const [command, rule] of FOUND) {
    it(`BASH-6: ${JSON.stringify(command)} is not covered by "${rule}"`, () => {
      expect(splitCommand(command).ok).toBe(false);
      expect(commandCoveredBy(command, rule)).toBe(false);
    });
  }
});

describe('BASH-4: a deny rule sees the hidden command', () => {
  it('BASH-4: `touch` behind a carriage return and inside nested backticks is denied', () => {
    expect(anySegmentStartsWith('git status \r#; touch /tmp/x', 'touch')).toBe(true);
    expect(anySegmentStartsWith('git status `git status \\`touch /tmp/x\\``', 'touch')).toBe(true);
    expect(anySegmentStartsWith("ls ${a:='x'$(touch /tmp/x)}", 'touch')).toBe(true);
  });
});
