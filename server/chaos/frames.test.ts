/**
 * Chaos: client frames that arrive twice, late, or out of order. Duplicated and
 * replayed decisions make one decision; acks out of order never move the queue
 * backwards; a decision after (or racing) the deadline is refused with `expired`
 * exactly when the request timed out. Every request has one outcome on every client.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServerProcess, type ServerProcess } from '../testing/index.ts';
import { answerOf, createRequest, frameOf, readRequest, watch, type Frame, type Watched } from '../../scripts/lib/chaosKit.ts';
import { mulberry32 } from '../../scripts/lib/permissionRun.js';

let server: ServerProcess;
const owned: ServerProcess[] = [];
const watchers: Watched[] = [];
beforeAll(async () => {
  server = await startServerProcess();
});
afterAll(async () => {
  for (const w of watchers) w.client.close();
  await server?.stop();
  for (const s of owned) await s.stop();
});

async function joined(label: string, options: { ackEveryMs?: number; on?: ServerProcess } = {}) {
  const on = options.on ?? server;
  const w = watch(() => on, label, options);
  watchers.push(w);
  await w.client.connect();
  return w;
}

/** Every frame sent before this has been handled by the server. */
async function barrier(w: Watched, tag: string) {
  w.client.send({ type: 'ping', id: tag });
  await frameOf(w, (f) => f.type === 'pong' && f.id === tag, `pong ${tag}`);
}

const outcomesOf = (w: Watched, id: string) =>
  w.frames.filter((f) => (f.type === 'permission-resolved' || f.type === 'permission-timeout' || f.type === 'permission-cancelled') && f.requestId === id);

describe('duplicates and replays', () => {
  it('CHAOS-9: the same decision sent three times at once, again after a reconnect, and replayed with a new clientMsgId makes ONE decision; the repeats get the same ack, the replay already-resolved', async () => {
    const decider = await joined('decider');
    const observer = await joined('observer');
    const r = await createRequest(server);
    await frameOf(decider, (f) => f.type === 'permission-request' && f.id === r.id);
    const frame = { type: 'permission-response', requestId: r.id, decision: 'allow', clientMsgId: 'dup-1' };
    for (let i = 0; i < 3; i++) decider.client.send(frame);
    await decider.client.until(() => decider.frames.filter((f) => f.ref === 'dup-1').length === 3, 5_000, 'three answers');
    const answers = decider.frames.filter((f) => f.ref === 'dup-1');
    expect(answers).toEqual(Array(3).fill({ type: 'ack', ref: 'dup-1', requestId: r.id, status: 'accepted' }));
    // Duplicate acks: no answer, no error.
    decider.client.send({ type: 'ack', seq: r.seq });
    decider.client.send({ type: 'ack', seq: r.seq });

    decider.client.terminate();
    await decider.client.until(() => decider.client.closedInfo !== undefined, 5_000, 'the close');
    expect((await decider.client.connect({ resume: true })).resumed).toBe(true);
    decider.client.send(frame);
    await decider.client.until(() => decider.frames.filter((f) => f.ref === 'dup-1').length === 4, 5_000, 'the fourth answer');
    expect(decider.frames.filter((f) => f.ref === 'dup-1')[3]).toEqual(answers[0]);
    // A replay of the same decision under a new clientMsgId, with the other decision.
    observer.client.send({ ...frame, decision: 'deny', clientMsgId: 'replay-2' });
    expect(await answerOf(observer, 'replay-2')).toMatchObject({ type: 'error', code: 'already-resolved', decision: 'allow', requestId: r.id });
    expect((await server.api(`/api/permission-requests/${r.id}/decision`, { method: 'POST', json: { decision: 'deny' } })).body).toMatchObject({
      error: { code: 'already-resolved' },
    });
    await barrier(decider, 'dup-done');
    await barrier(observer, 'dup-done');
    expect(outcomesOf(decider, r.id)).toHaveLength(1);
    expect(outcomesOf(observer, r.id)).toHaveLength(1);
    expect(outcomesOf(observer, r.id)[0]).toMatchObject({ decision: 'allow', decidedBy: 'decider' });
    expect(decider.frames.filter((f) => f.type === 'error')).toEqual([]);
    expect(decider.client.checker.violations).toEqual([]);
    expect(observer.client.checker.violations).toEqual([]);
  });

  it('CHAOS-10: acks out of order, repeated, and beyond the head: the queue never moves backwards, the bad one gets invalid-message, and the connection stays open', async () => {
    // Its own server: other clients' acks would move the queue too. No client here acks on its own.
    const own = await startServerProcess();
    owned.push(own);
    const holder = await joined('acker', { ackEveryMs: 0, on: own });
    const rs = [await createRequest(own), await createRequest(own), await createRequest(own)];
    await frameOf(holder, (f) => f.type === 'permission-request' && f.id === rs[2]!.id);
    const processing = async (tag: string) => {
      await barrier(holder, tag);
      const probe = await joined(`probe-${tag}`, { ackEveryMs: 0, on: own });
      const snapshot = await frameOf(probe, (f) => f.type === 'snapshot');
      probe.client.close();
      return snapshot.queue as { pending: number; processing: number };
    };
    const before = await processing('start');
    holder.client.send({ type: 'ack', seq: rs[1]!.seq });
    const afterSecond = await processing('second');
    expect(afterSecond.processing - before.processing).toBe(2);
    holder.client.send({ type: 'ack', seq: rs[0]!.seq }); // older than what it acked: ignored
    holder.client.send({ type: 'ack', seq: rs[1]!.seq }); // repeated
    expect(await processing('older')).toEqual(afterSecond);
    holder.client.send({ type: 'ack', seq: rs[2]!.seq + 1_000 });
    const bad = await frameOf(holder, (f) => f.type === 'error', 'the error for an ack beyond the head');
    expect(bad).toMatchObject({ code: 'invalid-message' });
    expect(bad.message).toMatch(/head/);
    holder.client.send({ type: 'ack', seq: rs[2]!.seq });
    const all = await processing('all');
    expect(all.processing - before.processing).toBe(3);
    expect(holder.client.closedInfo).toBeUndefined();
    expect(holder.client.checker.violations).toEqual([]);
  });
});

describe('deadlines', () => {
  it('CHAOS-11: a decision after the deadline gets expired (socket and HTTP) and adds no outcome; decisions racing deadlines win exactly when the request did not time out', async () => {
    const decider = await joined('late');
    const observer = await joined('late-observer');
    const late = await createRequest(server, { timeoutMs: 150 });
    await frameOf(decider, (f) => f.type === 'permission-timeout' && f.requestId === late.id, 'the timeout');
    decider.client.send({ type: 'permission-response', requestId: late.id, decision: 'allow', clientMsgId: 'too-late' });
    expect(await answerOf(decider, 'too-late')).toMatchObject({ type: 'error', code: 'expired', requestId: late.id });
    expect((await server.api(`/api/permission-requests/${late.id}/decision`, { method: 'POST', json: { decision: 'allow' } })).status).toBe(409);
    expect(await readRequest(server, late.id)).toMatchObject({ status: 'timedOut', decision: 'deny' });

    // A race: each request is decided at a seeded moment around its deadline.
    const seed = Number(process.env.CHAOS_SEED ?? Date.now() % 1_000_000);
    console.log(`CHAOS-11 seed ${seed}`);
    const random = mulberry32(seed);
    const racers = await Promise.all(Array.from({ length: 24 }, () => createRequest(server, { timeoutMs: 100 + Math.floor(random() * 100) })));
    for (const [i, r] of racers.entries()) {
      const at = Math.max(0, r.expiresAt - Date.now() + Math.floor(random() * 60) - 30);
      setTimeout(() => decider.client.send({ type: 'permission-response', requestId: r.id, decision: 'allow', clientMsgId: `race-${i}` }), at);
    }
    await decider.client.until(() => racers.every((_, i) => decider.frames.some((f) => f.ref === `race-${i}`)), 5_000, 'every racing answer');
    await barrier(observer, 'race-done');
    let won = 0;
    for (const [i, r] of racers.entries()) {
      const answer = decider.frames.find((f) => f.ref === `race-${i}`)!;
      const outcomes = outcomesOf(observer, r.id);
      expect(outcomes, `outcomes of racer ${i}`).toHaveLength(1);
      if (answer.type === 'ack') {
        won += 1;
        expect(outcomes[0]).toMatchObject({ type: 'permission-resolved', decision: 'allow' });
      } else {
        expect(answer).toMatchObject({ type: 'error', code: 'expired' });
        expect(outcomes[0]?.type).toBe('permission-timeout');
      }
    }
    console.log(`CHAOS-11: ${won} of ${racers.length} racing decisions beat their deadline`);
    expect(outcomesOf(observer, late.id)).toHaveLength(1);
    expect(decider.client.checker.violations).toEqual([]);
    expect(observer.client.checker.violations).toEqual([]);
  });
});

// Frames are typed loosely above on purpose: the suite talks to the server as a stranger would.
export type { Frame };
