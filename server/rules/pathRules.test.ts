/**
 * Path rules on real paths, in a real temporary folder: symlinks, new files, relative and
 * `~` paths, repository and agent configuration, the glob matcher's cost.
 */
import { linkSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { globMatch, pathCoveredBy, realPathOf, MAX_PATH_BYTES } from './pathRules.ts';
import { ruleCovers, type Rule } from './ruleMatch.ts';

let root: string;
let proj: string;
let outside: string;
beforeAll(() => {
  root = realpathSync(mkdtempSync(join(tmpdir(), 'gh-paths-')));
  proj = join(root, 'proj');
  outside = join(root, 'outside');
  mkdirSync(join(proj, 'src'), { recursive: true });
  mkdirSync(join(proj, '.git', 'hooks'), { recursive: true });
  mkdirSync(join(proj, '.claude'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(proj, 'src', 'a.ts'), '');
  writeFileSync(join(proj, '.git', 'config'), '');
  writeFileSync(join(outside, 'secret.txt'), '');
  writeFileSync(join(outside, 'linked.txt'), '');
  symlinkSync(outside, join(proj, 'link'));
  symlinkSync(join(outside, 'new-target.txt'), join(proj, 'dangling.txt'));
  linkSync(join(outside, 'linked.txt'), join(proj, 'hardlink.txt'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const writeRule = (pattern: string): Rule => ({
  id: 'r',
  toolName: 'Write',
  pattern,
  kind: 'path-glob',
  decision: 'allow',
  scope: 'global',
  createdAt: 0,
  createdBy: 'test',
});
const write = (file_path: string, cwd?: string) => ({ toolName: 'Write', input: { file_path, content: 'x' }, context: cwd ? { cwd } : {} });

describe('RULE-15: path rules match the real path', () => {
  it('RULE-15: ordinary project files (existing and new, in new folders) are covered by /proj/**', () => {
    const rule = writeRule(`${proj}/**`);
    expect(ruleCovers(rule, write(join(proj, 'src', 'a.ts')))).toBe(true);
    expect(ruleCovers(rule, write(join(proj, 'src', 'new.ts')))).toBe(true);
    expect(ruleCovers(rule, write(join(proj, 'src', 'deep', 'er', 'new.ts')))).toBe(true);
    expect(ruleCovers(rule, write(join(proj, 'README.md')))).toBe(true);
  });

  it('RULE-15: a symlink inside the project pointing outside, a dangling symlink, a hard link, `..` are not covered', () => {
    const rule = writeRule(`${proj}/**`);
    expect(ruleCovers(rule, write(join(proj, 'link', 'secret.txt')))).toBe(false);
    expect(ruleCovers(rule, write(join(proj, 'link', 'brand-new.txt')))).toBe(false);
    expect(ruleCovers(rule, write(join(proj, 'dangling.txt')))).toBe(false);
    expect(ruleCovers(rule, write(join(proj, 'hardlink.txt')))).toBe(false);
    expect(ruleCovers(rule, write(`${proj}/link/../../outside/secret.txt`))).toBe(false);
    expect(ruleCovers(rule, write(`${proj}/src/missing/../../x.txt`))).toBe(false);
    expect(realPathOf(join(proj, 'link', 'secret.txt'))).toEqual({ ok: true, path: join(outside, 'secret.txt') });
  });

  it("RULE-15: relative and `~` paths are a human's, even with a cwd inside the project", () => {
    const rule = writeRule(`${proj}/**`);
    expect(ruleCovers(rule, write('src/a.ts', proj))).toBe(false);
    expect(ruleCovers(rule, write('./src/a.ts', proj))).toBe(false);
    expect(ruleCovers(rule, write('~/.bashrc', proj))).toBe(false);
    expect(ruleCovers(writeRule(`${homedir()}/**`), write(join(homedir(), '.bashrc')))).toBe(false);
    expect(ruleCovers(writeRule(`${homedir()}/**`), write(join(homedir(), '.config', 'fish', 'config.fish')))).toBe(false);
    expect(ruleCovers(writeRule(`${homedir()}/**`), write(join(homedir(), '.config', 'git', 'config')))).toBe(false);
  });

  it('RULE-16: repository and agent configuration is never covered unless the rule names it', () => {
    const rule = writeRule(`${proj}/**`);
    for (const path of [
      '.git/config',
      '.git/hooks/pre-commit',
      '.claude/settings.local.json',
      '.vscode/settings.json',
      '.idea/workspace.xml',
      '.envrc',
      '.npmrc',
      '.gitmodules',
      'src/.bashrc',
      'sub/.zshrc',
      '.profile',
      '.GIT/config',
      '.mcp.json',
      '.curlrc',
      '.github/workflows/ci.yml',
      '.cargo/config.toml',
      '.pre-commit-config.yaml',
    ]) {
      expect(ruleCovers(rule, write(join(proj, path))), path).toBe(false);
    }
    expect(ruleCovers(writeRule(`${proj}/.git/hooks/*`), write(join(proj, '.git', 'hooks', 'pre-commit')))).toBe(true);
    expect(ruleCovers(writeRule(`${proj}/.claude/settings.local.json`), write(join(proj, '.claude', 'settings.local.json')))).toBe(true);
  });

  it('RULE-17: paths over the length bound and NUL bytes are not covered; globs are absolute', () => {
    const long = `${proj}/${'a/'.repeat(2100)}x.ts`;
    expect(Buffer.byteLength(long)).toBeGreaterThan(MAX_PATH_BYTES);
    expect(pathCoveredBy(`${proj}/**`, long)).toBe(false);
    expect(pathCoveredBy(`${proj}/**`, `${proj}/src/a.ts\0.png`)).toBe(false);
    expect(pathCoveredBy('src/**', join(proj, 'src', 'a.ts'))).toBe(false);
    expect(pathCoveredBy('**', join(proj, 'src', 'a.ts'))).toBe(false);
  });

  it('RULE-17: the glob matcher is linear: steps are bounded by 4 × (glob length + 1) × (path length + 1), two `**/` included', () => {
    const glob = '/p/**/**/**/x/**/y';
    const path = `/p/${'ab/'.repeat(1300)}z`;
    const result = globMatch(glob, path);
    expect(result.matched).toBe(false);
    expect(result.steps).toBeLessThanOrEqual(4 * (glob.length + 1) * (path.length + 1));
    // the 240 KB path of the report is refused by the bound before any matching
    expect(pathCoveredBy('/p/**/**/x', `/p/${'a/'.repeat(120_000)}`)).toBe(false);
  });

  it('RULE-15: a deny glob matches the path as written or the real one (`~`, relative, symlinked)', () => {
    const deny = (pattern: string): Rule => ({ ...writeRule(pattern), decision: 'deny' });
    expect(ruleCovers(deny(`${outside}/**`), write(join(proj, 'link', 'secret.txt')))).toBe(true);
    expect(ruleCovers(deny(`${proj}/src/**`), write('src/a.ts', proj))).toBe(true);
    expect(ruleCovers(deny(`${homedir()}/.ssh/**`), write('~/.ssh/id_rsa'))).toBe(true);
    expect(ruleCovers(deny(`${proj}/.git/**`), write(join(proj, '.git', 'config')))).toBe(true);
    expect(ruleCovers(deny(`${proj}/other/**`), write(join(proj, 'src', 'a.ts')))).toBe(false);
  });

  it('RULE-8: `**/` is zero or more whole folders, `*` and `?` stay within one, `\\` escapes', () => {
    expect(globMatch('/p/**/safe.txt', '/p/safe.txt').matched).toBe(true);
    expect(globMatch('/p/**/safe.txt', '/p/a/b/safe.txt').matched).toBe(true);
    expect(globMatch('/p/**/safe.txt', '/p/unsafe.txt').matched).toBe(false);
    expect(globMatch('/p/*.ts', '/p/a/b.ts').matched).toBe(false);
    expect(globMatch('/p/*.ts', '/p/b.ts').matched).toBe(true);
    expect(globMatch('/p/?.ts', '/p/b.ts').matched).toBe(true);
    expect(globMatch('/p/?.ts', '/p//.ts').matched).toBe(false);
    expect(globMatch('/p/**', '/p/a/b.ts').matched).toBe(true);
    expect(globMatch('/p/a\\*b', '/p/a*b').matched).toBe(true);
    expect(globMatch('/p/a\\*b', '/p/axb').matched).toBe(false);
  });

  it('RULE-18: case-insensitive where the file system is (detected, or told)', () => {
    expect(pathCoveredBy(`${proj}/SRC/**`, join(proj, 'src', 'a.ts'), { caseInsensitive: () => false })).toBe(false);
    expect(pathCoveredBy(`${proj}/SRC/**`, join(proj, 'src', 'a.ts'), { caseInsensitive: () => true })).toBe(true);
    // protected names are compared without case everywhere
    expect(pathCoveredBy(`${proj}/**`, join(proj, '.Git', 'config'), { caseInsensitive: () => false })).toBe(false);
  });
});
