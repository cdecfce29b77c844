/**
 * For tests on PostgreSQL (SPEC.md TEAM): is it reachable, and a new database per test
 * (`gh_test_<random>`), dropped afterwards. Every machine of this project runs
 * PostgreSQL 15 on 127.0.0.1:5432 (issue 13); GATEHOUSE_TEST_POSTGRES names another.
 *
 * Where it is not reachable the suites skip and say so, except under CI=true, where
 * `.ci/run` requires it and they fail instead (`requirePostgres`).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The maintenance database tests connect to in order to create and drop theirs. */
export const TEST_POSTGRES_URL = process.env.GATEHOUSE_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Whether PostgreSQL answers at TEST_POSTGRES_URL (within a few seconds). */
export async function postgresReachable(url = TEST_POSTGRES_URL): Promise<{ ok: true } | { ok: false; why: string }> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return { ok: true };
  } catch (error) {
    return { ok: false, why: (error as Error).message };
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Checks once at collection time: true when the suite should run. Unreachable: a console
 * line saying the suite is skipped, or, under CI=true, an error (the suite fails).
 */
export async function requirePostgres(suite: string, url = TEST_POSTGRES_URL, env: Record<string, string | undefined> = process.env): Promise<boolean> {
  const reachable = await postgresReachable(url);
  if (reachable.ok) return true;
  const message = `PostgreSQL not reachable at ${url} (${reachable.why}): ${suite} skipped`;
  if (env.CI === 'true') throw new Error(`PostgreSQL not reachable at ${url} (${reachable.why}): ${suite} cannot run, and CI=true requires it`);
  console.warn(message);
  return false;
}

/** The URL of `database` on the same server as TEST_POSTGRES_URL. */
export function databaseUrl(database: string): string {
  const url = new URL(TEST_POSTGRES_URL);
  url.pathname = `/${database}`;
  return url.toString();
}

/** Creates a new, empty database; `drop` removes it (closing what is still connected). */
export async function createTestDatabase(): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const name = `gh_test_${randomBytes(6).toString('hex')}`;
  await admin(`CREATE DATABASE ${name}`);
  return {
    name,
    url: databaseUrl(name),
    drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_POSTGRES_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
