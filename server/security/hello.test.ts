/**
 * The agent hello (contract-2 §2) against the real app in-process: the proof is the
 * HMAC of nonce and Host under the agent token, given without any credential, and
 * useless for any other Host.
 */
import { describe, expect, it } from 'vitest';
import { createApp } from '../app.ts';
import { BrokerHost } from '../brokerHost.ts';
import { testConfig } from '../config.ts';
import { silentLogger } from '../log.ts';
import { createMetrics } from '../metrics.ts';
import { SqliteEventStore } from '../store/sqliteStore.ts';
import { buildAllowList } from './allowList.ts';
import { helloProof, helloProofValid } from './helloProof.ts';

const OWNER = 'owner-token-0123456789abcdef';
const AGENT = 'agent-token-0123456789abcdef';

function app() {
  const store = new SqliteEventStore({ dataDir: ':memory:' });
  const allow = buildAllowList({ bindHost: '127.0.0.1', port: 3000, extraOrigins: [], extraHosts: [] });
  return createApp({
    config: testConfig(),
    store,
    host: new BrokerHost({ store, logger: silentLogger }, store.loadNow({ now: Date.now() })),
    security: { auth: true, token: OWNER, agentToken: AGENT, port: () => 3000, allowList: () => allow },
    logger: silentLogger,
    metrics: createMetrics(),
  });
}

const hello = (body: unknown, host = '127.0.0.1:3000') =>
  app().request('http://127.0.0.1:3000/api/agent/hello', {
    method: 'POST',
    headers: { host, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

describe('agent hello', () => {
  it('HELLO-1: answers HMAC-SHA256(agent token, nonce|host) in hex, with no credential', async () => {
    const nonce = 'ab'.repeat(16);
    const res = await hello({ nonce }, 'LocalHost:3000');
    expect(res.status).toBe(200);
    const { proof } = (await res.json()) as { proof: string };
    expect(proof).toBe(helloProof(AGENT, nonce, 'localhost:3000'));
    expect(helloProofValid(AGENT, nonce, 'localhost:3000', proof)).toBe(true);
    // Bound to the host the client addressed, the nonce, and the agent token.
    expect(helloProofValid(AGENT, nonce, 'localhost:3001', proof)).toBe(false);
    expect(helloProofValid(AGENT, 'cd'.repeat(16), 'localhost:3000', proof)).toBe(false);
    expect(helloProofValid(OWNER, nonce, 'localhost:3000', proof)).toBe(false);
  });

  it('HELLO-2: a nonce that is not 32 to 128 hex characters is refused naming the field; a foreign Host gets 403', async () => {
    for (const nonce of ['ab'.repeat(15), 'z'.repeat(32), 'ab'.repeat(65), 42]) {
      const res = await hello({ nonce });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/nonce/);
    }
    expect((await hello({ nonce: 'ab'.repeat(16) }, 'evil.example:3000')).status).toBe(403);
  });
});
