/**
 * Red-team regressions for path rules (SPEC.md "Red-team regressions (RT)"): paths whose
 * meaning depends on the process that opens them, and request inputs a rule was not about.
 */
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pathCoveredBy, realPathOf } from './pathRules.ts';
import { proposeRule, ruleCovers, type Rule } from './ruleMatch.ts';

let proj: string;
beforeAll(() => {
  proj = realpathSync(mkdtempSync(join(tmpdir(), 'gh-rt-paths-')));
  writeFileSync(join(proj, 'a.ts'), '');
});
afterAll(() => rmSync(proj, { recursive: true, force: true }));

const writeRule = (pattern: string, decision: Rule['decision'] = 'allow'): Rule => ({ id: `r-${decision}`, toolName: 'Write', pattern, kind: 'path-glob', decision, scope: 'global', createdAt: 0, createdBy: 'test' });
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
    for (const name of ['.kube/config', '.aws/config', '.docker/config.json', '.gradle/init.d/x.gradle', '.rustup/settings.toml', 'mise.toml', '.mise.toml', 'mise.local.toml', 'bunfig.toml', '.config/gh/config.yml', '.config/pip/pip.conf', '.config/mise/config.toml', '.gdbinit', '.lldbinit', '.tmux.conf', '.psqlrc', '.irbrc']) {
      expect(ruleCovers(rule, write(join(proj, name))), name).toBe(false);
      expect(ruleCovers(writeRule(`${proj}/${name}`), write(join(proj, name))), `${name} named`).toBe(true);
    }
    expect(ruleCovers(rule, write(join(proj, 'src', 'kube.ts')))).toBe(true);
  });
});
