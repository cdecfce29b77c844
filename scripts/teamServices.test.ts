/**
 * SPEC.md TEAM-C4: `npm test` says in one line whether PostgreSQL and NATS are there for the
 * cluster suite; without them it skips the suite, except under CI=true, where it fails.
 * Unreachable services are real closed ports (nothing listens on port 1 or 2).
 */
import { describe, expect, it } from 'vitest';
import { teamServices } from './lib/teamServices.js';

const away = { GATEHOUSE_TEST_POSTGRES: 'postgres://gatehouse:s3cret@127.0.0.1:1/test', GATEHOUSE_TEST_NATS: 'nats://127.0.0.1:2' };

describe('TEAM-C4: the cluster suite and the team services', () => {
  it('TEAM-C4: neither answers: one line naming both and why, the suite skipped; the password is not shown', async () => {
    const found = await teamServices('cluster suite', away);
    expect(found).toMatchObject({ run: false, fail: false });
    expect(found.line).toMatch(
      /^cluster suite SKIPPED: PostgreSQL not reachable at postgres:\/\/gatehouse:\*\*\*@127\.0\.0\.1:1\/test \(.+\); NATS not reachable at nats:\/\/127\.0\.0\.1:2 \(.+\)$/,
    );
    expect(found.line).not.toContain('s3cret');
    expect(found.line).not.toContain('\n');
  });

  it('TEAM-C4: under CI=true a missing service fails the run instead', async () => {
    const found = await teamServices('cluster suite', { ...away, CI: 'true' });
    expect(found).toMatchObject({ run: false, fail: true });
    expect(found.line).toMatch(/^cluster suite FAILED: CI=true requires PostgreSQL and NATS: /);
  });
});
