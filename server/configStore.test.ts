/** `--store` / GATEHOUSE_STORE (contract-2 §6; SPEC.md TEAM-5). */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, parseServeArgs, storeOf, testConfig } from './config.ts';
import { openConfiguredStore } from './store/openStore.ts';

const storeFrom = (argv: string[], env: Record<string, string> = {}) => {
  const parsed = parseServeArgs(['--data-dir', '/tmp/gh-data', ...argv], env);
  if (parsed.help) throw new Error('unexpected help');
  return storeOf(parsed.config);
};

describe('TEAM-5: --store / GATEHOUSE_STORE', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('TEAM-5: default sqlite:<data-dir>/gatehouse.db; sqlite:PATH; postgres:// and postgresql:// URLs; the flag beats the environment', () => {
    expect(storeFrom([])).toEqual({ kind: 'sqlite', file: '/tmp/gh-data/gatehouse.db' });
    // A Config copied with another data directory follows it.
    expect(storeOf(testConfig({ dataDir: '/tmp/other' }))).toEqual({ kind: 'sqlite', file: '/tmp/other/gatehouse.db' });
    expect(storeFrom(['--store', 'sqlite:rel/x.db'])).toEqual({ kind: 'sqlite', file: resolve('rel/x.db') });
    expect(storeFrom([], { GATEHOUSE_STORE: 'postgres://gh@db.internal:5432/gatehouse' })).toEqual({
      kind: 'postgres',
      url: 'postgres://gh@db.internal:5432/gatehouse',
    });
    expect(storeFrom(['--store', 'postgresql://gh@db/g'], { GATEHOUSE_STORE: 'sqlite:/x.db' })).toEqual({ kind: 'postgres', url: 'postgresql://gh@db/g' });
  });

  it('TEAM-5: bad values name the flag and what is expected, and never echo a URL (it may hold a password)', () => {
    const error = (argv: string[], env: Record<string, string> = {}) => {
      try {
        storeFrom(argv, env);
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return (e as Error).message;
      }
      throw new Error('no error');
    };
    expect(error(['--store', 'sqlite:'])).toMatch(/^--store: sqlite:PATH needs the database file's path/);
    expect(error(['--store', 'postgres:///gatehouse'])).toMatch(/^--store: the PostgreSQL URL needs a host/);
    const invalid = error(['--store', 'postgres://gh:s3cret@/gatehouse']);
    expect(invalid).toBe('--store: not a valid URL; expected postgres://USER@HOST:PORT/DATABASE');
    const noDb = error([], { GATEHOUSE_STORE: 'postgres://gh:s3cret@db:5432' });
    expect(noDb).toMatch(/^GATEHOUSE_STORE: the PostgreSQL URL needs a database name/);
    expect(noDb).not.toContain('s3cret');
    const other = error(['--store', 'mysql://root:s3cret@db/x']);
    expect(other).toBe('--store: expected sqlite:PATH or postgres://USER@HOST:PORT/DATABASE, got a mysql: URL');
  });

  it('TEAM-5: sqlite:PATH puts the events (and the devices) in that file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-store-'));
    dirs.push(dir);
    const file = join(dir, 'elsewhere', 'events.db');
    const opened = await openConfiguredStore({ kind: 'sqlite', file }, join(dir, 'data'));
    expect(opened).toMatchObject({ kind: 'sqlite', location: file, localFile: file });
    await opened.ping();
    expect(existsSync(file)).toBe(true);
    expect(existsSync(join(dir, 'data', 'gatehouse.db'))).toBe(false);
    await opened.store.close();
    await expect(opened.ping()).rejects.toThrow(/closed/);
  });
});
