import { describe, expect, it } from 'vitest';
import { lenientSegments } from './bashLenient.ts';
import { commandViews, normaliseWords } from './bashNormalise.ts';
import { anySegmentStartsWith, splitCommand } from './bashSegments.ts';
import { generateCommand, prng } from './testing/bashGrammar.ts';

describe('BASH-4: deny rules compare normalised words', () => {
  it('BASH-4: assignments, wrappers with their options, and the path of the command are stripped', () => {
    const cases: [string[], string[]][] = [
      [
        ['A=1', 'B=2', 'rm', '-rf', 'x'],
        ['rm', '-rf', 'x'],
      ],
      [
        ['/bin/rm', '-rf', 'x'],
        ['rm', '-rf', 'x'],
      ],
      [
        ['env', '-i', '-u', 'HOME', 'A=1', 'rm', 'x'],
        ['rm', 'x'],
      ],
      [
        ['env', '--', 'rm', 'x'],
        ['rm', 'x'],
      ],
      [
        ['sudo', '-u', 'root', '-E', 'A=1', '/usr/bin/rm', 'x'],
        ['rm', 'x'],
      ],
      [
        ['sudo', '--user', 'root', 'rm', 'x'],
        ['rm', 'x'],
      ],
      [
        ['doas', '-u', 'root', 'rm', 'x'],
        ['rm', 'x'],
      ],
      [
        ['command', '-p', 'rm', 'x'],
        ['rm', 'x'],
      ],
      [
        ['builtin', 'exec', '-a', 'name', 'rm', 'x'],
        ['rm', 'x'],
      ],
      [
        ['nohup', 'nice', '-n', '10', 'rm', 'x'],
        ['rm', 'x'],
      ],
      [
        ['timeout', '-s', 'KILL', '5', 'rm', 'x'],
        ['rm', 'x'],
      ],
      [
        ['timeout', '--kill-after=1', '5s', 'rm', 'x'],
        ['rm', 'x'],
      ],
      [
        ['stdbuf', '-oL', '-e', '0', 'rm', 'x'],
        ['rm', 'x'],
      ],
      [
        ['time', '-p', 'rm', 'x'],
        ['rm', 'x'],
      ],
      [['xargs', '-0', '-n', '1', 'rm'], ['rm']],
      [
        ['then', 'rm', 'x'],
        ['rm', 'x'],
      ],
      [
        ['git', 'push'],
        ['git', 'push'],
      ],
    ];
    for (const [words, expected] of cases) expect(normaliseWords(words), words.join(' ')).toEqual(expected);
  });

  it('BASH-4: a deny rule matches through wrappers, substitutions, shells and the hidden parts of a line', () => {
    const denied = [
      'sudo -u root /bin/rm -rf /',
      'env -i A=1 rm x',
      'A=1 B=2 rm x',
      'bash -c "rm -rf /"',
      "sh -c 'ls; rm x'",
      'eval rm x',
      "env -S 'rm x'",
      "find . -name x -exec rm {} ';'",
      'x `y \\`rm z\\``',
      'git status \r#; rm x',
      'git status \r; rm x',
      'timeout 5 rm x',
      'ls ${a:=$(rm x)}',
      'ls $[ $(rm x) ]',
      '(rm x)',
      '{ rm x; }',
      'if true; then rm x; fi',
      'for i in 1; do rm x; done',
      'f() { rm x; }; f',
      "$'rm' x",
      "$'\\x72\\x6d' x",
      'ls && \\rm x',
      '"rm" x',
      'ls | xargs rm',
      'cat <<EOF\n$(rm x)\nEOF',
      'ls \\\n; rm x',
    ];
    for (const command of denied) expect(anySegmentStartsWith(command, 'rm'), JSON.stringify(command)).toBe(true);
    expect(anySegmentStartsWith('sudo ls', 'sudo')).toBe(true);
    expect(anySegmentStartsWith('/usr/bin/curl x | sh', 'curl')).toBe(true);
    expect(anySegmentStartsWith('curl x', '/usr/bin/curl')).toBe(true);
    expect(anySegmentStartsWith('git push --force', 'git push')).toBe(true);
    expect(anySegmentStartsWith('sudo git push', 'git push')).toBe(true);
  });

  it('BASH-4: what does not run is not denied (comments after a blank, quoted text, other commands)', () => {
    for (const command of ['ls # rm x', 'echo "rm x"', "echo 'rm x'", 'rmdir x', 'ls rm', 'git status --rm'])
      expect(anySegmentStartsWith(command, 'rm'), command).toBe(false);
  });

  it('BASH-4: views keep the wrapper itself, so a rule may deny the wrapper', () => {
    expect(commandViews(['sudo', '-u', 'root', 'rm', 'x'])).toEqual([
      ['sudo', '-u', 'root', 'rm', 'x'],
      ['rm', 'x'],
    ]);
  });

  it('BASH-4: the deny reader sees every segment the allow reader reads (generated commands)', () => {
    const rng = prng(4242);
    let readable = 0;
    for (let n = 0; n < 1500; n += 1) {
      const command = generateCommand(rng);
      const split = splitCommand(command);
      if (!split.ok) continue;
      readable += 1;
      const seen = lenientSegments(command).map((segment) => JSON.stringify(segment.words));
      for (const segment of split.segments) if (segment.literal?.every(Boolean)) expect(seen, JSON.stringify(command)).toContain(JSON.stringify(segment.words));
    }
    expect(readable).toBeGreaterThan(300);
  });

  it('BASH-4: the deny reader never throws and stays fast on hostile input', () => {
    // Linear reading takes milliseconds here; the bound only catches a quadratic one.
    const huge = '$('.repeat(20_000) + '`'.repeat(10_000) + '${'.repeat(10_000) + '\'"\\';
    const started = Date.now();
    expect(Array.isArray(lenientSegments(huge))).toBe(true);
    expect(anySegmentStartsWith(`${'echo $('.repeat(40)}rm x${')'.repeat(40)}`, 'rm')).toBe(true);
    expect(anySegmentStartsWith(`${'\\`'.repeat(20_000)}rm`, 'rm')).toBe(false);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
