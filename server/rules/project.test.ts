/**
 * Project scope keyed by git's common directory (AGX-11): every worktree of one
 * repository is one project; a forged `.git` file is not another repository's project.
 * Real git repositories and a real `git worktree add`.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectOf } from './ruleMatch.ts';

describe('project scope', () => {
  let root: string;
  let repo: string;
  let worktree: string;
  beforeAll(() => {
    root = realpathSync(mkdtempSync(join(tmpdir(), 'gh-project-')));
    repo = join(root, 'repo');
    worktree = join(root, 'repo-feature');
    mkdirSync(join(repo, 'src'), { recursive: true });
    const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, stdio: 'pipe', env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null' } });
    git('init', '-q');
    writeFileSync(join(repo, 'README'), 'x');
    git('add', 'README');
    git('-c', 'user.email=t@t', '-c', 'user.name=t', 'commit', '-qm', 'init');
    git('worktree', 'add', '-q', worktree);
    mkdirSync(join(worktree, 'lib'), { recursive: true });
  });
  afterAll(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it("AGX-11: a linked worktree (and its subfolders) is the main repository's project", () => {
    expect(projectOf(join(repo, 'src'))).toBe(repo);
    expect(projectOf(worktree)).toBe(repo);
    expect(projectOf(join(worktree, 'lib'))).toBe(repo);
  });

  it("AGX-11: a forged or stale .git file is its own folder's project, never the repository it names", () => {
    const forged = join(root, 'forged');
    mkdirSync(forged);
    // Points at the real worktree's git dir, whose back-pointer names the real worktree, not this folder.
    const gitDir = execFileSync('git', ['rev-parse', '--git-dir'], { cwd: worktree, encoding: 'utf8' }).trim();
    writeFileSync(join(forged, '.git'), `gitdir: ${gitDir}\n`);
    expect(projectOf(forged)).toBe(forged);
    const stale = join(root, 'stale');
    mkdirSync(stale);
    writeFileSync(join(stale, '.git'), 'gitdir: /nonexistent/worktrees/x\n');
    expect(projectOf(stale)).toBe(stale);
  });
});
