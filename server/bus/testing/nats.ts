/**
 * For tests on NATS (SPEC.md TEAM): is it reachable. Every machine of this project runs
 * NATS on 127.0.0.1:4222 (issue 13); GATEHOUSE_TEST_NATS names another. Unreachable: the
 * suites skip and say so, except under CI=true, where they fail (as for PostgreSQL).
 */
import { connect } from '@nats-io/transport-node';

export const TEST_NATS_URL = process.env.GATEHOUSE_TEST_NATS ?? 'nats://127.0.0.1:4222';

export async function requireNats(suite: string, url = TEST_NATS_URL, env: Record<string, string | undefined> = process.env): Promise<boolean> {
  try {
    const nc = await connect({ servers: new URL(url).host, timeout: 3_000, reconnect: false });
    await nc.close();
    return true;
  } catch (error) {
    const message = `NATS not reachable at ${url} (${(error as Error).message}): ${suite} skipped`;
    if (env.CI === 'true') throw new Error(`NATS not reachable at ${url} (${(error as Error).message}): ${suite} cannot run, and CI=true requires it`);
    console.warn(message);
    return false;
  }
}
