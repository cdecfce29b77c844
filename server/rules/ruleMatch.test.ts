import { describe, expect, it } from 'vitest';
import { globMatch } from './pathRules.ts';
import { ruleCovers, type Rule } from './ruleMatch.ts';

const rule = (pattern: string, decision: 'allow' | 'deny'): Rule => ({
  id: `r-${decision}`,
  toolName: 'Bash',
  pattern,
  kind: 'bash-prefix',
  decision,
  scope: 'global',
  createdAt: 0,
  createdBy: 'test',
});
const bash = (command: string) => ({ toolName: 'Bash', input: { command }, context: {} });

describe('RULE-7: a deny rule matches the words as split, whatever they hold', () => {
  it('RULE-7: quoted operators in an argument do not hide a denied command', () => {
    const deny = rule('git push', 'deny');
    for (const command of [`git push --force origin "'"`, `git push --force 'a;b'`, `git push 'x)'`, 'git push > out.txt', 'ls && git push']) {
      expect(ruleCovers(deny, bash(command)), command).toBe(true);
    }
    expect(ruleCovers(deny, bash('git pull'))).toBe(false);
    expect(ruleCovers(deny, bash('git pushx'))).toBe(false);
  });
});

describe('RULE-8: path globs keep folder boundaries', () => {
  it('RULE-8: `**/` is zero or more whole folders, `*` stays within one', () => {
    const glob = (g: string) => ({ test: (p: string) => globMatch(g, p).matched });
    expect(glob('/p/**/safe.txt').test('/p/safe.txt')).toBe(true);
    expect(glob('/p/**/safe.txt').test('/p/a/b/safe.txt')).toBe(true);
    expect(glob('/p/**/safe.txt').test('/p/unsafe.txt')).toBe(false);
    expect(glob('/p/*.ts').test('/p/a/b.ts')).toBe(false);
    expect(glob('/p/**').test('/p/a/b.ts')).toBe(true);
  });
});
