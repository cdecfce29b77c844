/**
 * Chaos: hostile input. A barrage of malformed frames (not JSON, wrong types, unknown
 * types, binary, huge strings, deep nesting), oversized frames, and a seeded fast-check
 * fuzz of client frames, all against the live server while a control client is served
 * normally. The server must answer each frame (an `error` naming the problem, or the
 * contract's close code), never crash, never hang, and never log an uncaught error.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, startServerProcess, type ServerProcess, type TestClient } from '../testing/index.ts';
import { answerOf, createRequest, frameOf, watch, type Frame, type Watched } from '../../scripts/lib/chaosKit.ts';

let server: ServerProcess;
const watchers: Watched[] = [];
const raw: TestClient[] = [];
beforeAll(async () => {
  server = await startServerProcess();
});
afterAll(async () => {
  for (const w of watchers) w.client.close();
  for (const c of raw) c.terminate();
  await server?.stop();
});

async function attacker() {
  const c = await connectClient(server.wsUrl(), { perMessageDeflate: false });
  raw.push(c);
  await c.waitFor((f) => f.type === 'welcome');
  return c;
}

/** The control client does a full round trip: create, receive, decide, ack, outcome. */
async function roundTrip(control: Watched, tag: string) {
  // Its own tool name: a rule remembered by a fuzzed decision cannot decide it.
  const r = await createRequest(server, { toolName: `ControlTool-${tag}`, input: { tag } });
  await frameOf(control, (f) => f.type === 'permission-request' && f.id === r.id);
  control.client.send({ type: 'permission-response', requestId: r.id, decision: 'allow', clientMsgId: `control-${tag}` });
  expect(await answerOf(control, `control-${tag}`)).toMatchObject({ type: 'ack', status: 'accepted' });
  await frameOf(control, (f) => f.type === 'permission-resolved' && f.requestId === r.id);
}

function expectServerHealthy() {
  expect(server.proc.exitCode).toBeNull();
  expect(server.stderr()).not.toMatch(/uncaught|unhandled|RangeError|TypeError/i);
}

const deep = (depth: number, open: string, close: string) => open.repeat(depth) + close.repeat(depth);
/** {"a":{"a":...1...}}: small on the wire (6 bytes a level), deep enough to overflow a recursive walk. */
const deepObject = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);

describe('malformed frames', () => {
  it('CHAOS-12: a barrage of malformed frames gets invalid-message for each, the attacker stays connected below the strike limit, and a control client is served normally throughout', async () => {
    const control = watch(() => server, 'control');
    watchers.push(control);
    await control.client.connect();
    const pending = await createRequest(server);
    const bad: Array<string | Buffer> = [
      '{not json',
      '',
      'null',
      '[]',
      '"permission-response"',
      '{"type":42}',
      '{"type":"permission-response"}',
      JSON.stringify({ type: 'permission-response', requestId: 5, decision: 'maybe' }),
      JSON.stringify({ type: 'permission-response', requestId: pending.id, decision: 'allow', updatedInput: 'rm -rf /' }),
      JSON.stringify({ type: 'permission-response', requestId: pending.id, decision: 'allow', clientMsgId: { nested: true } }),
      JSON.stringify({ type: 'ack', seq: -1 }),
      JSON.stringify({ type: 'ack', seq: 'NaN' }),
      JSON.stringify({ type: 'ack', seq: 1e308 }),
      JSON.stringify({ type: 'subscribe', channel: 'everything' }),
      JSON.stringify({ type: '__proto__', __proto__: { polluted: true } }),
      '{"type":"ping","constructor":{"prototype":{"polluted":true}}}x',
      Buffer.from([0, 1, 2, 3, 255]),
      Buffer.from(JSON.stringify({ type: 'ping', id: 'binary' })),
      JSON.stringify({ type: 'permission-response', requestId: 'x'.repeat(900_000), decision: 'allow' }),
      JSON.stringify({ type: 'permission-response', requestId: pending.id, decision: 'allow', message: 'm'.repeat(900_000) }),
      deep(100_000, '[', ']'),
      `{"type":"permission-response","requestId":"${pending.id}","decision":"allow","updatedInput":${deepObject(20_000)}}`,
      `{"type":"permission-response","requestId":"${pending.id}","decision":"allow","message":${deep(50_000, '[', ']')}}`,
    ];
    const c = await attacker();
    let answered = 0;
    for (const [i, frame] of bad.entries()) {
      c.sendRaw(frame);
      // Every malformed frame gets its own error; a ping after it proves the order.
      c.send({ type: 'ping', id: `after-${i}` });
      await c.waitFor((f) => f.type === 'pong' && f.id === `after-${i}`, { timeoutMs: 10_000 });
      answered = c.frames.filter((f) => f.type === 'error' && f.code === 'invalid-message').length;
      expect(answered, `frame ${i}: ${String(frame).slice(0, 80)}`).toBe(i + 1);
      if (i % 5 === 0) await roundTrip(control, `barrage-${i}`);
    }
    expect(c.ws.readyState).toBe(c.ws.OPEN);
    expect(c.unparsed).toEqual([]);
    expect(await server.api(`/api/permission-requests/${pending.id}`).then((r) => r.body.status)).toBe('pending');
    // The same deep values over HTTP: 400 naming the field, not a 500.
    for (const [field, body] of [
      ['input', `{"toolName":"Bash","input":${deepObject(20_000)}}`],
      ['context', `{"toolName":"Bash","input":{},"context":{"x":${deepObject(3_000)}}}`],
    ]) {
      const res = await server.api('/api/permission-requests', { method: 'POST', body, headers: { 'content-type': 'application/json' } });
      expect(res.status, field).toBe(400);
      expect(res.body.error.message).toMatch(new RegExp(`^${field}:`));
    }
    await roundTrip(control, 'barrage-end');
    expect(control.client.checker.violations).toEqual([]);
    expectServerHealthy();
  }, 30_000);

  it('CHAOS-12: more than 100 invalid frames within 10 s close the attacker with 1008; the control client is unaffected', async () => {
    const control = watch(() => server, 'control-strikes');
    watchers.push(control);
    await control.client.connect();
    const c = await attacker();
    for (let i = 0; i < 150; i++) c.sendRaw(`garbage ${i}`);
    expect((await c.closed).code).toBe(1008);
    await roundTrip(control, 'after-strikes');
    expectServerHealthy();
  });

  it('CHAOS-13: a frame over the limit closes with 1009, one just under it is answered; the server keeps serving', async () => {
    const limit = 1 << 20;
    const under = await attacker();
    const payload = (size: number) => {
      const head = '{"type":"ping","id":"';
      const tail = '"}';
      return head + 'x'.repeat(size - head.length - tail.length) + tail;
    };
    under.sendRaw(payload(limit - 16));
    // Answered (the id is too long for a ping: invalid-message naming it), not closed.
    const answer = await under.waitFor((f) => f.type === 'error', { timeoutMs: 10_000 });
    expect(answer).toMatchObject({ code: 'invalid-message' });
    expect(answer.message).toMatch(/^id:/);
    under.send({ type: 'ping', id: 'still-open' });
    await under.waitFor((f) => f.type === 'pong' && f.id === 'still-open');
    const over = await attacker();
    over.sendRaw(payload(limit + 1));
    expect((await over.closed).code).toBe(1009);
    const binaryOver = await attacker();
    binaryOver.sendRaw(Buffer.alloc(limit * 2, 7));
    expect((await binaryOver.closed).code).toBe(1009);
    const control = watch(() => server, 'control-size');
    watchers.push(control);
    await control.client.connect();
    await roundTrip(control, 'after-oversize');
    expectServerHealthy();
  }, 20_000);
});

describe('fuzz', () => {
  it('CHAOS-14: a seeded fast-check fuzz of client frames (valid, mutated and random) never crashes or hangs the server; every frame is answered or ignored as the contract says', async () => {
    const seed = Number(process.env.CHAOS_SEED ?? Date.now() % 2_147_483_647);
    console.log(`CHAOS-14 fuzz seed ${seed} (CHAOS_SEED=${seed} replays it)`);
    const control = watch(() => server, 'control-fuzz');
    watchers.push(control);
    await control.client.connect();
    const ids = [(await createRequest(server)).id, (await createRequest(server)).id, 'unknown-id'];

    const anyValue = fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.jsonValue({ maxDepth: 3 }));
    const response = fc.record(
      {
        type: fc.constantFrom('permission-response', 'ack', 'ping', 'PERMISSION-RESPONSE', 'welcome', 'snapshot'),
        requestId: fc.oneof(fc.constantFrom(...ids), anyValue),
        decision: fc.oneof(fc.constantFrom('allow', 'deny'), anyValue),
        updatedInput: fc.oneof(fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 3 })), anyValue),
        message: anyValue,
        clientMsgId: fc.oneof(fc.uuid(), anyValue),
        seq: fc.oneof(fc.integer({ min: -5, max: 1_000 }), anyValue),
        id: anyValue,
        remember: fc.oneof(fc.record({ scope: fc.constantFrom('session', 'project', 'global', 'forever') }), anyValue),
      },
      { requiredKeys: ['type'] },
    );
    const frame = fc.oneof(
      { weight: 5, arbitrary: response.map((v) => JSON.stringify(v)) },
      { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)) },
      { weight: 2, arbitrary: fc.string({ maxLength: 200 }) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)) },
    );
    const batches = fc.sample(fc.array(frame, { minLength: 20, maxLength: 60 }), { seed, numRuns: 8 });
    let sent = 0;
    for (const [b, batch] of batches.entries()) {
      // A fresh connection per batch keeps each below the 100-invalid-frames strike limit.
      const c = await attacker();
      for (const f of batch) c.sendRaw(f);
      sent += batch.length;
      c.send({ type: 'ping', id: `fuzz-${b}` });
      // No hang: every batch is followed by its pong, or (a fuzzed ping/close) by the pong of a second probe.
      await c.waitFor((f) => f.type === 'pong' && f.id === `fuzz-${b}`, { timeoutMs: 10_000 });
      const errors = c.frames.filter((f) => f.type === 'error');
      for (const e of errors as Frame[]) expect(['invalid-message', 'unknown-request', 'already-resolved', 'expired', 'cancelled']).toContain(e.code);
      expect(c.unparsed).toEqual([]);
      c.terminate();
      await roundTrip(control, `fuzz-${b}`);
    }
    console.log(`CHAOS-14: ${sent} fuzzed frames in ${batches.length} connections`);
    expect((await server.api('/healthz', { token: null })).status).toBe(200);
    expect(control.client.checker.violations).toEqual([]);
    expectServerHealthy();
  }, 30_000);
});
