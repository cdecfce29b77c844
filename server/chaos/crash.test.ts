/**
 * Chaos: the process dies at exact points (the test-only fault switch GATEHOUSE_FAULT,
 * server/fault.ts), or loses its database; then it restarts on the same data directory.
 * Each crash test checks that its fault point was reached (the stderr marker and
 * SIGKILL), then that no acknowledged request or decision was lost or doubled, that ids
 * and seq are unchanged, and that a client resuming with since + epoch sees every event
 * once (its StreamChecker spans the connections before and after the crash).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startServerProcess, type ServerProcess } from '../testing/index.ts';
import { answerOf, auditStream, createRequest, frameOf, readRequest, watch, type Frame, type Watched } from '../../scripts/lib/chaosKit.ts';

const TOKEN = 'chaos-crash-token-0123456789abcdef';
const dirs: string[] = [];
const servers: ServerProcess[] = [];
const watchers: Watched[] = [];
afterAll(async () => {
  for (const w of watchers) w.client.close();
  for (const s of servers) await s.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

type Fault = 'after-persist-before-send' | 'after-send-before-ack' | 'during-decision-store';

async function start(dataDir: string, fault?: Fault) {
  const server = await startServerProcess({ dataDir, env: { GATEHOUSE_TOKEN: TOKEN, ...(fault ? { GATEHOUSE_FAULT: fault } : {}) } });
  servers.push(server);
  return server;
}

/** A server with history: r1 (Idempotency-Key), r2 (decided over the socket), r3; killed with -9. */
async function prepare() {
  const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-chaos-'));
  dirs.push(dataDir);
  const box = { current: await start(dataDir) };
  const w = watch(() => box.current, 'holder');
  watchers.push(w);
  await w.client.connect();
  const r1 = await createRequest(box.current, { toolName: 'Bash' }, 'key-r1');
  const r2 = await createRequest(box.current, { toolName: 'Write' });
  const r3 = await createRequest(box.current, { toolName: 'Read' });
  await frameOf(w, (f) => f.type === 'permission-request' && f.id === r3.id);
  w.client.send({ type: 'permission-response', requestId: r2.id, decision: 'deny', clientMsgId: 'decided-before' });
  const ackBefore = await answerOf(w, 'decided-before');
  expect(ackBefore).toMatchObject({ type: 'ack', status: 'accepted' });
  await frameOf(w, (f) => f.type === 'permission-resolved' && f.requestId === r2.id);
  const views = await Promise.all([r1, r2, r3].map((r) => readRequest(box.current, r.id)));
  await box.current.kill('SIGKILL');
  return { dataDir, box, w, r1, r2, r3, views, ackBefore, epoch: w.client.checker.epoch as string };
}

/** Starts with the fault armed; resolves once the process killed itself at that point. */
async function crashAt(dataDir: string, fault: Fault, box: { current: ServerProcess }, w: Watched, trigger: (s: ServerProcess) => void) {
  const faulty = await start(dataDir, fault);
  box.current = faulty;
  const welcome = await w.client.connect({ resume: true });
  expect(welcome.resumed).toBe(true);
  const headBefore = welcome.seq;
  trigger(faulty);
  const exit = await faulty.exited;
  expect(exit.signal).toBe('SIGKILL');
  expect(faulty.stderr()).toContain(`GATEHOUSE_FAULT_REACHED ${fault}`);
  return { headBefore };
}

/** What every crash test checks after the restart: the old requests as they were, the stored stream whole. */
async function expectNothingLost(s: ServerProcess, prep: Awaited<ReturnType<typeof prepare>>) {
  for (const before of prep.views) {
    const after = await readRequest(s, before.id);
    expect(after).toMatchObject({ id: before.id, seq: before.seq, expiresAt: before.expiresAt, toolName: before.toolName });
    if (before.status !== 'pending') expect(after).toMatchObject({ status: before.status, decision: before.decision, decidedBy: before.decidedBy });
  }
  // The clientMsgId answered before any crash keeps its answer.
  prep.w.client.send({ type: 'permission-response', requestId: prep.r2.id, decision: 'allow', clientMsgId: 'decided-before' });
  await prep.w.client.until(() => prep.w.frames.filter((f) => f.type === 'ack' && f.ref === 'decided-before').length === 2, 10_000, 'the replayed answer');
  expect(prep.w.frames.filter((f) => f.ref === 'decided-before')).toEqual([prep.ackBefore, prep.ackBefore]);
  const audit = await auditStream(s, prep.epoch);
  expect(audit.violations).toEqual([]);
  expect(audit.epoch).toBe(prep.epoch);
  for (const [id, outcomes] of audit.outcomes) expect(outcomes, `outcomes of ${id}`).toHaveLength(1);
  for (const r of [prep.r1, prep.r2, prep.r3]) expect(audit.requests.get(r.id)).toBe(r.seq);
  return audit;
}

describe('crashes at exact points', () => {
  it('CHAOS-1: killed after persist, before send: the agent got no 201 and no client saw it; after the restart the request is there once, its retry (same Idempotency-Key) gets it with 200, and a resuming client gets it once with the same seq', async () => {
    const prep = await prepare();
    const { box, w } = prep;
    const body = { toolName: 'Bash', input: { command: 'rm -rf build', tag: 'crash' }, timeoutMs: 600_000 };
    let answer: Promise<unknown> = Promise.resolve();
    const { headBefore } = await crashAt(prep.dataDir, 'after-persist-before-send', box, w, (s) => {
      answer = s.api('/api/permission-requests', { method: 'POST', json: body, headers: { 'Idempotency-Key': 'key-crash' } }).catch((e: unknown) => e);
    });
    expect(await answer).toBeInstanceOf(Error); // no 201 was given
    expect(w.frames.some((f) => f.type === 'permission-request' && f.input?.tag === 'crash')).toBe(false);

    const s = await start(prep.dataDir);
    box.current = s;
    const retry = await s.api('/api/permission-requests', { method: 'POST', json: body, headers: { 'Idempotency-Key': 'key-crash' } });
    expect(retry.status).toBe(200);
    expect(retry.body).toMatchObject({ status: 'pending', seq: headBefore + 1 });
    const welcome = await w.client.connect({ resume: true });
    expect(welcome).toMatchObject({ resumed: true, epoch: prep.epoch, seq: headBefore + 1 });
    const seen = await frameOf(w, (f) => f.type === 'permission-request' && f.input?.tag === 'crash');
    expect(seen).toMatchObject({ id: retry.body.id, seq: retry.body.seq });
    const pending = (await s.api('/api/permission-requests?status=pending')).body.requests.map((r: Frame) => r.id);
    expect(pending).toEqual([prep.r1.id, prep.r3.id, retry.body.id]);
    const audit = await expectNothingLost(s, prep);
    expect(audit.requests.size).toBe(4);
    expect(w.client.checker.violations).toEqual([]);
  });

  it('CHAOS-2: killed after send, before ack: the decision is stored once; the decider re-sends its clientMsgId and gets the ack it missed; every client holds exactly one outcome', async () => {
    const prep = await prepare();
    const { box, w, r1 } = prep;
    let poll: Promise<unknown> = Promise.resolve();
    await crashAt(prep.dataDir, 'after-send-before-ack', box, w, (s) => {
      poll = s.api(`/api/permission-requests/${r1.id}?wait=20`).catch((e: unknown) => e);
      w.client.send({ type: 'permission-response', requestId: r1.id, decision: 'allow', clientMsgId: 'crash-msg' });
    });
    expect(w.frames.some((f) => f.ref === 'crash-msg')).toBe(false); // the ack never went out
    expect(await poll).toBeInstanceOf(Error);

    const s = await start(prep.dataDir);
    box.current = s;
    const welcome = await w.client.connect({ resume: true });
    expect(welcome.resumed).toBe(true);
    await frameOf(w, (f) => f.type === 'permission-resolved' && f.requestId === r1.id);
    w.client.send({ type: 'permission-response', requestId: r1.id, decision: 'allow', clientMsgId: 'crash-msg' });
    expect(await answerOf(w, 'crash-msg')).toEqual({ type: 'ack', ref: 'crash-msg', requestId: r1.id, status: 'accepted' });
    // The agent's repeated long-poll gets the decision.
    expect((await s.api(`/api/permission-requests/${r1.id}?wait=5`)).body).toMatchObject({ status: 'resolved', decision: 'allow', decidedBy: 'holder' });
    const audit = await expectNothingLost(s, prep);
    expect(audit.outcomes.get(r1.id)).toHaveLength(1);
    expect(w.frames.filter((f) => f.type === 'permission-resolved' && f.requestId === r1.id)).toHaveLength(1);
    expect(w.client.checker.violations).toEqual([]);
  });

  it('CHAOS-3: killed while a decision is being stored: nothing was acknowledged and nothing is stored; the decider re-sends its clientMsgId and it is applied once', async () => {
    const prep = await prepare();
    const { box, w, r1 } = prep;
    const { headBefore } = await crashAt(prep.dataDir, 'during-decision-store', box, w, () => {
      w.client.send({ type: 'permission-response', requestId: r1.id, decision: 'deny', message: 'not now', clientMsgId: 'lost-msg' });
    });
    expect(w.frames.some((f) => f.ref === 'lost-msg' || (f.type === 'permission-resolved' && f.requestId === r1.id))).toBe(false);

    const s = await start(prep.dataDir);
    box.current = s;
    expect(await readRequest(s, r1.id)).toMatchObject({ status: 'pending', seq: r1.seq });
    const welcome = await w.client.connect({ resume: true });
    expect(welcome).toMatchObject({ resumed: true, seq: headBefore }); // nothing was committed
    w.client.send({ type: 'permission-response', requestId: r1.id, decision: 'deny', message: 'not now', clientMsgId: 'lost-msg' });
    expect(await answerOf(w, 'lost-msg')).toMatchObject({ type: 'ack', status: 'accepted', requestId: r1.id });
    const resolved = await frameOf(w, (f) => f.type === 'permission-resolved' && f.requestId === r1.id);
    expect(resolved).toMatchObject({ seq: headBefore + 1, decision: 'deny', message: 'not now' });
    const audit = await expectNothingLost(s, prep);
    expect(audit.outcomes.get(r1.id)).toHaveLength(1);
    expect(w.client.checker.violations).toEqual([]);
  });
});

describe('the database is lost', () => {
  it('CHAOS-4: the database deleted: a new epoch; a client resuming with the old since + epoch gets resumed:false and a snapshot, then a gapless stream in the new epoch', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-chaos-'));
    dirs.push(dataDir);
    const box = { current: await start(dataDir) };
    const w = watch(() => box.current, 'survivor');
    watchers.push(w);
    await w.client.connect();
    const old = await createRequest(box.current);
    await frameOf(w, (f) => f.type === 'permission-request' && f.id === old.id);
    const oldEpoch = w.client.checker.epoch;
    await box.current.stop();
    for (const file of ['gatehouse.db', 'gatehouse.db-wal', 'gatehouse.db-shm']) rmSync(join(dataDir, file), { force: true });

    box.current = await start(dataDir);
    const welcome = await w.client.connect({ resume: true });
    expect(welcome).toMatchObject({ resumed: false, seq: 0 });
    expect(welcome.epoch).not.toBe(oldEpoch);
    const at = w.frames.indexOf(welcome);
    await w.client.until(() => w.frames.length > at + 1, 10_000, 'the frame after the welcome');
    expect(w.frames[at + 1]).toMatchObject({ type: 'snapshot', seq: 0, requests: [], queue: { pending: 0, processing: 0 } });
    const fresh = await createRequest(box.current);
    expect(fresh.seq).toBe(1);
    await frameOf(w, (f) => f.type === 'permission-request' && f.id === fresh.id);
    expect((await box.current.api(`/api/permission-requests/${old.id}`)).status).toBe(404);
    expect(w.client.checker.violations).toEqual([]);
    expect(w.client.checker.epoch).toBe(welcome.epoch);
  });
});
