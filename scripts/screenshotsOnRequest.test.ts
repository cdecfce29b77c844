/**
 * Tests never write tracked files: the end-to-end run that `npm test` makes leaves
 * docs/screenshots/ alone, and only `npm run screenshots` (GATEHOUSE_SCREENSHOTS=1) adds
 * the project that writes them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';

const E2E = join(process.cwd(), 'e2e');

async function projects(env: string | undefined) {
  vi.resetModules();
  if (env === undefined) delete process.env.GATEHOUSE_SCREENSHOTS;
  else process.env.GATEHOUSE_SCREENSHOTS = env;
  const config = (await import('../playwright.config.ts')).default;
  return config.projects ?? [];
}

describe('screenshots only on request', () => {
  const saved = process.env.GATEHOUSE_SCREENSHOTS;
  afterEach(() => {
    if (saved === undefined) delete process.env.GATEHOUSE_SCREENSHOTS;
    else process.env.GATEHOUSE_SCREENSHOTS = saved;
  });

  it('APP-11: a plain run has only the e2e project, which skips the screenshot spec', async () => {
    const plain = await projects(undefined);
    expect(plain.map((p) => p.name)).toEqual(['e2e']);
    expect(String(plain[0]?.testIgnore)).toContain('screenshots');
    const asked = await projects('1');
    expect(asked.map((p) => p.name)).toEqual(['e2e', 'screenshots']);
  });

  it('APP-11: no other spec writes a screenshot file', () => {
    const writers = readdirSync(E2E, { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts') && !f.endsWith('screenshots.spec.ts'))
      .filter((f) => /\.screenshot\(\s*\{[^}]*path\s*:/.test(readFileSync(join(E2E, f), 'utf8')));
    expect(writers).toEqual([]);
  });

  it('APP-11: npm run screenshots asks for them', () => {
    const pkg = JSON.parse(readFileSync(join(process.cwd(), 'package.json'), 'utf8'));
    expect(pkg.scripts.screenshots).toContain('GATEHOUSE_SCREENSHOTS=1');
    expect(pkg.scripts.screenshots).toContain('--project=screenshots');
  });
});
