/**
 * Red-team regressions for path rules (SPEC.md "Red-team regressions (RT)"): paths whose
 * meaning depends on the process that opens them, and request inputs a rule was not about.
 */
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAgentsDb } from '../agents/db.ts';
import { silentLogger } from '../log.ts';
import { pathCoveredBy, realPathOf } from './pathRules.ts';
import { RuleEngine } from './ruleEngine.ts';
import { RuleStore } from './ruleStore.ts';
import { proposeRule, ruleCovers, type Rule } from './ruleMatch.ts';

let proj: string;
beforeAll(() => {
  proj = realpathSync(mkdtempSync(join(tmpdir(), 'gh-rt-paths-')));
  writeFileSync(join(proj, 'a.ts'), '');
});
afterAll(() => rmSync(proj, { recursive: true, force: true }));

const writeRule = (pattern: string, decision: Rule['decision'] = 'allow'): Rule => ({
  id: `r-${decision}`,
  toolName: 'Write',
  pattern,
  kind: 'path-glob',
  decision,
  scope: 'global',
  createdAt: 0,
  createdBy: 'test',
});
const write = (file_path: string) => ({ toolName: 'Write', input: { file_path, content: 'x' }, context: {} });

describe('RT-9: paths that mean another file in another process', () => {
  it('RT-9: /proc/self/cwd/…, /proc/<pid>/root/…, /dev/fd/… are resolved in the SERVER, not in the agent that opens them: never covered, never remembered', () => {
    const cwd = realpathSync(process.cwd());
    const rule = writeRule(`${cwd}/**`);
    // in the server this is a file under the rule; in the agent, a file under ITS cwd
    expect(ruleCovers(rule, write('/proc/self/cwd/rt9-new.txt'))).toBe(false);
    expect(ruleCovers(rule, write(`/proc/${process.pid}/cwd/rt9-new.txt`))).toBe(false);
    expect(ruleCovers(writeRule(`${proj}/**`), write(`/proc/self/root${proj}/a.ts`))).toBe(false);
    expect(ruleCovers(writeRule('/proc/**'), write('/proc/self/fd/1'))).toBe(false);
    expect(ruleCovers(writeRule('/dev/**'), write('/dev/fd/1'))).toBe(false);
    expect(pathCoveredBy(`${cwd}/**`, '/proc/thread-self/cwd/x')).toBe(false);
    expect(realPathOf('/proc/self/cwd/x')).toMatchObject({ ok: false });
    expect(proposeRule(write('/proc/self/cwd/rt9-new.txt'))).toMatchObject({ exact: null, refused: expect.stringMatching(/process/) });
  });
  it('RT-9: a deny rule still matches them as written, and ordinary paths stay covered (positive)', () => {
    expect(ruleCovers(writeRule('/proc/self/cwd/**', 'deny'), write('/proc/self/cwd/x'))).toBe(true);
    expect(ruleCovers(writeRule(`${proj}/**`), write(join(proj, 'a.ts')))).toBe(true);
    expect(ruleCovers(writeRule(`${proj}/**`), write(join(proj, 'new', 'b.ts')))).toBe(true);
  });
});

describe('RT-15: more configuration that runs programs is protected', () => {
  it('RT-15: `~/.kube/config` (exec credential plugins), `~/.aws/config` (credential_process), `~/.docker/config.json` (credHelpers), `~/.gradle/init.d`, `mise.toml`, `bunfig.toml`, `.config/gh`, `.gdbinit` are not covered by a broad glob', () => {
    const rule = writeRule(`${proj}/**`);
    for (const name of [
      '.kube/config',
      '.aws/config',
      '.docker/config.json',
      '.gradle/init.d/x.gradle',
      '.rustup/settings.toml',
      'mise.toml',
      '.mise.toml',
      'mise.local.toml',
      'bunfig.toml',
      '.config/gh/config.yml',
      '.config/pip/pip.conf',
      '.config/mise/config.toml',
      '.gdbinit',
      '.lldbinit',
      '.tmux.conf',
      '.psqlrc',
      '.irbrc',
    ]) {
      expect(ruleCovers(rule, write(join(proj, name))), name).toBe(false);
      expect(ruleCovers(writeRule(`${proj}/${name}`), write(join(proj, name))), `${name} named`).toBe(true);
    }
    expect(ruleCovers(rule, write(join(proj, 'src', 'kube.ts')))).toBe(true);
  });
});

describe('RT-18: a rule’s folder swapped for a symlink does not move the rule', () => {
  it('RT-18: with `/proj/src/**` allowed, `src` replaced by a symlink to another folder (a `git checkout` can do it) makes `/proj/src/x` not covered', () => {
    const base = realpathSync(mkdtempSync(join(tmpdir(), 'gh-rt18-')));
    try {
      mkdirSync(join(base, 'proj', 'src'), { recursive: true });
      mkdirSync(join(base, 'elsewhere'));
      writeFileSync(join(base, 'elsewhere', 'secret.txt'), '');
      const rule = writeRule(`${base}/proj/src/**`);
      expect(ruleCovers(rule, write(join(base, 'proj', 'src', 'a.ts')))).toBe(true);
      rmSync(join(base, 'proj', 'src'), { recursive: true });
      symlinkSync(join(base, 'elsewhere'), join(base, 'proj', 'src'));
      expect(ruleCovers(rule, write(join(base, 'proj', 'src', 'secret.txt')))).toBe(false);
      expect(ruleCovers(rule, write(join(base, 'proj', 'src', 'new.txt')))).toBe(false);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
  it('RT-18: a glob made over the API through a symlinked folder is stored as its real path, so it still covers the files there (positive)', async () => {
    const base = realpathSync(mkdtempSync(join(tmpdir(), 'gh-rt18b-')));
    const db = openAgentsDb(':memory:');
    try {
      mkdirSync(join(base, 'real'));
      symlinkSync(join(base, 'real'), join(base, 'alias'));
      const engine = new RuleEngine({
        host: { onCommitted: () => () => {}, decide: async () => ({ answer: { status: 'accepted' } }), unresolvedEvents: () => [] },
        rules: new RuleStore(db),
        lookup: () => undefined,
        logger: silentLogger,
      });
      const res = await engine.routes().request('/', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ toolName: 'Write', pattern: `${base}/alias/**`, scope: 'global' }),
      });
      expect(res.status).toBe(201);
      const created = (await res.json()) as Rule;
      expect(created.pattern).toBe(`${base}/real/**`);
      expect(ruleCovers(created, write(join(base, 'alias', 'a.ts')))).toBe(true);
    } finally {
      db.close();
      rmSync(base, { recursive: true, force: true });
    }
  });
});
