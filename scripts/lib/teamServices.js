/**
 * Are the team services there: PostgreSQL and NATS (issue 13; SPEC.md TEAM-C4). `npm test`
 * asks before the cluster suite and says in one line what it found; under CI=true a
 * missing service fails the run instead of skipping the suite. Plain JavaScript, so
 * scripts/test.js (run by bare node) can use it; the same URLs as the test helpers
 * (server/store/testing/postgres.ts, server/bus/testing/nats.ts).
 */
import { connect } from '@nats-io/transport-node';
import pg from 'pg';

export const DEFAULT_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/test';
export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';

/** `{ ok: true }` or `{ ok: false, why }`, within a few seconds. */
export async function postgresAnswers(url) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return { ok: true };
  } catch (error) {
    return { ok: false, why: error.message || error.code || String(error) };
  } finally {
    await client.end().catch(() => {});
  }
}

export async function natsAnswers(url) {
  try {
    const nc = await connect({ servers: new URL(url).host, timeout: 3_000, reconnect: false });
    await nc.close();
    return { ok: true };
  } catch (error) {
    return { ok: false, why: error.message || String(error) };
  }
}

/** A URL without its password, for a line on the console. */
export function shownUrl(url) {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(not a URL)';
  }
}

/**
 * What `npm test` does with a suite that needs both services: `run` true when both
 * answer; otherwise `run` false, `fail` true under CI=true, and one `line` saying which
 * service did not answer where, and why.
 */
export async function teamServices(suite, env = process.env) {
  const postgresUrl = env.GATEHOUSE_TEST_POSTGRES || DEFAULT_POSTGRES_URL;
  const natsUrl = env.GATEHOUSE_TEST_NATS || DEFAULT_NATS_URL;
  const [postgres, nats] = await Promise.all([postgresAnswers(postgresUrl), natsAnswers(natsUrl)]);
  const missing = [];
  if (!postgres.ok) missing.push(`PostgreSQL not reachable at ${shownUrl(postgresUrl)} (${postgres.why})`);
  if (!nats.ok) missing.push(`NATS not reachable at ${shownUrl(natsUrl)} (${nats.why})`);
  if (missing.length === 0)
    return { run: true, fail: false, line: `${suite}: PostgreSQL at ${shownUrl(postgresUrl)} and NATS at ${shownUrl(natsUrl)} answer: running it` };
  const ci = env.CI === 'true';
  return {
    run: false,
    fail: ci,
    line: `${suite} ${ci ? 'FAILED: CI=true requires PostgreSQL and NATS' : 'SKIPPED'}: ${missing.join('; ')}`,
  };
}
