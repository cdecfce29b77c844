import { describe, expect, it } from 'vitest';
import { MAX_COMMAND_LENGTH, readCommand, simpleCommands } from './bashReader.ts';

const read = (command: string) => {
  const result = readCommand(command);
  if (!result.ok) throw new Error(result.reason);
  return result.lists;
};

describe('BASH-1: the reader keeps operators, words and redirections apart', () => {
  it('BASH-1: and-or lists, pipelines and background', () => {
    const lists = read('a && b | c || d & e');
    expect(lists).toHaveLength(2);
    expect(lists[0]?.background).toBe(true);
    expect(lists[0]?.first.map((command) => command.words[0]?.text)).toEqual(['a']);
    expect(lists[0]?.rest.map((link) => [link.op, link.pipeline.map((command) => command.words[0]?.text)])).toEqual([
      ['&&', ['b', 'c']],
      ['||', ['d']],
    ]);
    expect(lists[1]?.first[0]?.words[0]?.text).toBe('e');
  });

  it('BASH-1: variables are parts of a word, quoted or not; a word with one is not literal', () => {
    const [command] = simpleCommands(read('echo "$HOME"/x ${X}y $Y \'$Z\''));
    expect(command?.words.map((word) => [word.text, word.literal])).toEqual([
      ['echo', true],
      ['$HOME/x', false],
      ['${X}y', false],
      ['$Y', false],
      ['$Z', true],
    ]);
    // The opening quote leaves an empty quoted part: `""$E` is one (empty) word to bash.
    expect(command?.words[1]?.parts).toEqual([
      { kind: 'text', text: '', quoted: true },
      { kind: 'var', name: 'HOME', quoted: true },
      { kind: 'text', text: '/x', quoted: false },
    ]);
  });

  it('BASH-1: redirections anywhere in a command, with descriptors; which are safe', () => {
    const [command] = simpleCommands(read('2>&1 git >/dev/null status 3>out "2">x <&- >&/dev/null 12345678901>/dev/null'));
    expect(command?.words.map((word) => word.text)).toEqual(['git', 'status', '2']);
    expect(command?.redirects.map((redirect) => [redirect.fd, redirect.op, redirect.target.text, redirect.safe])).toEqual([
      [2, '>&', '1', true],
      [undefined, '>', '/dev/null', true],
      [3, '>', 'out', false],
      [undefined, '>', 'x', false],
      [undefined, '<&', '-', true],
      [undefined, '>&', '/dev/null', true],
      [12345678901, '>', '/dev/null', true],
    ]);
  });

  it('BASH-6: `n>&/dev/null` is `&>/dev/null` only without a descriptor or with 1 (bash: "ambiguous redirect")', () => {
    const safety = (command: string) => simpleCommands(read(command))[0]!.redirects.map((redirect) => redirect.safe);
    expect(safety('git "log" ""#x 2>&/dev/null')).toEqual([false]);
    expect(safety('ls >&/dev/null 1>&/dev/null <&/dev/null 0>&/dev/null')).toEqual([true, true, false, false]);
  });

  it('BASH-1: a reserved word is refused in command position only', () => {
    expect(readCommand('echo if then fi done').ok).toBe(true);
    expect(readCommand('ls | done').ok).toBe(false);
    expect(readCommand('\\if x').ok).toBe(true);
    expect(readCommand('A=1 B=2 while x').ok).toBe(false);
  });
});

describe('BASH-1: reading stays linear on large input', () => {
  // Sized so that linear reading takes tens of milliseconds and quadratic reading minutes:
  // the bound stays far from both, also on a loaded machine.
  it('BASH-1: a hundred kilobytes of words, variables and quotes read in linear time', () => {
    const started = Date.now();
    expect(readCommand(`ls ${'$X "$Y" \'z\' ${W} a\\;b '.repeat(3_000)}`).ok).toBe(true);
    expect(readCommand(`ls ${'$'.repeat(90_000)}`).ok).toBe(false);
    expect(readCommand(`ls "${'$X'.repeat(45_000)}`).ok).toBe(false);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe('BASH-1: a command too long to read is unreadable', () => {
  it('BASH-1: more than MAX_COMMAND_LENGTH characters is refused, naming the bound', () => {
    const result = readCommand(`ls ${'x'.repeat(MAX_COMMAND_LENGTH)}`);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(/longer than 100,000 characters/);
    expect(readCommand(`ls ${'x'.repeat(MAX_COMMAND_LENGTH - 10)}`).ok).toBe(true);
  });
});

describe('tilde', () => {
  it('BASH-1: a "~" inside a word (HEAD~1) is a plain character; at a word start or after = or : it is expansion, unreadable', async () => {
    const { splitCommand } = await import('./bashSegments.ts');
    const read = splitCommand('git diff --stat HEAD~1');
    expect(read.ok && read.segments[0]?.words).toEqual(['git', 'diff', '--stat', 'HEAD~1']);
    for (const command of ['ls ~', 'cat ~/x', 'make prefix=~/x', 'a=b:~/c ls', 'ls x:~']) expect(splitCommand(command).ok, command).toBe(false);
  });
});
