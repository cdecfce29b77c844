/**
 * Every JSON answer of the HTTP API, read from a real server process, parses with its
 * schema in protocol/http.ts: the schemas the web client reads with are the server's truth.
 */
import { createECDH, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import {
  auditEntryAnswer,
  auditPage,
  cancelAnswer,
  createRequestResult,
  decisionAnswer,
  deviceList,
  healthAnswer,
  helloAnswer,
  pairingCreated,
  parseDecidedBy,
  pushKeyAnswer,
  pushSubscribed,
  pushUnsubscribed,
  readyAnswer,
  requestList,
  requestView,
  revokedAnswer,
  ruleList,
  ruleProposal,
  ruleView,
  sessionAnswer,
  sessionList,
  sessionMessages,
  sessionStopped,
} from '../../protocol/index.ts';
import { startServerProcess, type ServerProcess } from '../testing/index.ts';

// A push endpoint on a loopback port nothing listens on: subscribing never POSTs to it.
const PUSH_ORIGIN = 'http://127.0.0.1:9';
let server: ServerProcess;
beforeAll(async () => {
  server = await startServerProcess({ args: ['--agent', 'demo', '--push-allowed-origins', PUSH_ORIGIN] });
});
afterAll(async () => {
  await server?.stop();
});

/** The answer's status, and its body parsed with the schema (a failure names the field). */
async function answer<S extends z.ZodType>(
  schema: S,
  path: string,
  init: Parameters<ServerProcess['api']>[1] = {},
): Promise<{ status: number; body: z.infer<S> }> {
  const res = await server.api(path, init);
  const parsed = schema.safeParse(res.body);
  if (!parsed.success) throw new Error(`${init.method ?? 'GET'} ${path} (${res.status}): ${parsed.error.message}\n${res.text.slice(0, 500)}`);
  return { status: res.status, body: parsed.data };
}

describe('typed HTTP answers', () => {
  it('CORE-O6: requests, rules, audit, devices, pairing, push, sessions and health answer in their protocol/http.ts shapes', async () => {
    expect((await answer(healthAnswer, '/healthz', { token: null })).status).toBe(200);
    expect((await answer(readyAnswer, '/readyz')).status).toBe(200);
    expect((await answer(helloAnswer, '/api/agent/hello', { method: 'POST', json: { nonce: randomBytes(16).toString('hex') }, token: null })).status).toBe(200);

    const created = await answer(createRequestResult, '/api/permission-requests', {
      method: 'POST',
      json: { toolName: 'Bash', input: { command: 'git status' }, context: { sessionId: 's-1', agent: 'test' } },
    });
    expect(created.status).toBe(201);
    await answer(requestView, `/api/permission-requests/${created.body.id}`);
    await answer(requestList, '/api/permission-requests?status=pending');
    const proposal = await answer(ruleProposal, '/api/rules/proposal', { method: 'POST', json: { requestId: created.body.id } });
    expect(proposal.body.exact).not.toBeNull();
    const decided = await answer(decisionAnswer, `/api/permission-requests/${created.body.id}/decision`, {
      method: 'POST',
      json: { decision: 'allow', remember: { scope: 'session' } },
    });
    expect(decided.body).toMatchObject({ status: 'resolved', decidedBy: 'http', remember: { created: true } });

    const other = await answer(createRequestResult, '/api/permission-requests', { method: 'POST', json: { toolName: 'Read', input: { file_path: '/tmp/x' } } });
    const cancelled = await answer(cancelAnswer, `/api/permission-requests/${other.body.id}?reason=agent-aborted`, { method: 'DELETE' });
    expect(cancelled.body.status).toBe('cancelled');

    const made = await answer(ruleView, '/api/rules', { method: 'POST', json: { toolName: 'Bash', pattern: 'ls', decision: 'allow', scope: 'global' } });
    expect(made.status).toBe(201);
    const rules = await answer(ruleList, '/api/rules');
    expect(rules.body.rules.map((r) => r.id)).toContain(made.body.id);
    // who made each rule reads with the one vocabulary: the HTTP API, twice here
    expect(rules.body.rules.map((r) => parseDecidedBy(r.createdBy).kind)).toEqual(['http', 'http']);
    await answer(revokedAnswer, `/api/rules/${made.body.id}`, { method: 'DELETE' });

    const audit = await answer(auditPage, '/api/audit');
    expect(audit.body.entries.length).toBeGreaterThan(0);
    await answer(auditEntryAnswer, `/api/audit/${created.body.id}`);

    await answer(deviceList, '/api/devices');
    expect((await answer(pairingCreated, '/api/pairings', { method: 'POST' })).status).toBe(201);
    await answer(pushKeyAnswer, '/api/push/key');
    const p256dh = createECDH('prime256v1');
    p256dh.generateKeys();
    const subscription = {
      endpoint: `${PUSH_ORIGIN}/push/${randomBytes(8).toString('hex')}`,
      keys: { p256dh: p256dh.getPublicKey().toString('base64url'), auth: randomBytes(16).toString('base64url') },
    };
    expect((await answer(pushSubscribed, '/api/push/subscriptions', { method: 'POST', json: subscription })).status).toBe(201);
    await answer(pushUnsubscribed, '/api/push/subscriptions', { method: 'DELETE', json: { endpoint: subscription.endpoint } });

    await answer(sessionList, '/api/sessions');
    const session = await answer(sessionAnswer, '/api/sessions', { method: 'POST', json: { prompt: 'hello' } });
    expect(session.status).toBe(201);
    await answer(sessionMessages, `/api/sessions/${session.body.session.id}/messages`);
    await answer(sessionStopped, `/api/sessions/${session.body.session.id}/stop`, { method: 'POST' });
  });
});
