/**
 * The notifier against a fake host and a fake sender: the restart paths and the bounds,
 * which the end-to-end tests (push.test.ts) cannot reach without waiting for real time.
 */
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import type { PermissionRequestEvent, SequencedEvent } from '../../protocol/index.ts';
import { silentLogger } from '../log.ts';
import { PushNotifier, type PushActivity, type PushHost } from './notifier.ts';
import { SqlitePushStore } from './pushStore.ts';
import type { SendResult } from './sender.ts';

function requestEvent(id: string, seq: number): PermissionRequestEvent {
  return {
    type: 'permission-request',
    seq,
    id,
    toolName: 'Bash',
    input: { command: 'rm -rf /' },
    context: {},
    timestamp: 0,
    expiresAt: 600_000,
  } as PermissionRequestEvent;
}

async function setup(
  options: {
    unresolved?: PermissionRequestEvent[];
    maxInFlight?: number;
    maxQueued?: number;
    subscriptions?: number;
    sent?: string[];
    heldElsewhere?: (requestId: string) => Promise<boolean>;
  } = {},
) {
  const store = new SqlitePushStore(new Database(':memory:'));
  for (let i = 0; i < (options.subscriptions ?? 1); i++)
    await store.upsert({ endpoint: `https://push.example/${i}`, keys: { p256dh: 'p', auth: 'a' } }, null, 0);
  for (const id of options.sent ?? []) await store.markSent(id, 0);
  let listener: ((events: readonly SequencedEvent[]) => void) | undefined;
  const unresolved = new Map((options.unresolved ?? []).map((e) => [e.id, e]));
  const held = new Set<string>();
  const host: PushHost = {
    onCommitted: (fn) => {
      listener = fn;
      return () => (listener = undefined);
    },
    whenQuiet: (fn) => fn(),
    isHeld: (id) => (unresolved.has(id) ? held.has(id) : undefined),
    unresolvedEvents: () => [...unresolved.values()],
  };
  const sends: Array<{ endpoint: string; payload: any; resolve: (r: SendResult) => void }> = [];
  const activity: PushActivity[] = [];
  const clock = new SimulatedClock();
  const notifier = new PushNotifier({
    host,
    store,
    logger: silentLogger,
    vapid: { publicKey: 'k', privateKey: 'p' },
    subject: 'mailto:a@example.com',
    delayMs: 1_000,
    isAllowed: () => true,
    clock,
    now: () => clock.now(),
    send: (target, payload) => new Promise((resolve) => sends.push({ endpoint: target.endpoint, payload: JSON.parse(payload), resolve })),
    onActivity: (a) => activity.push(a),
    ...(options.maxInFlight !== undefined ? { maxInFlight: options.maxInFlight } : {}),
    ...(options.maxQueued !== undefined ? { maxQueued: options.maxQueued } : {}),
    ...(options.heldElsewhere ? { heldElsewhere: options.heldElsewhere } : {}),
  });
  notifier.start();
  await notifier.settled();
  const emit = (...events: SequencedEvent[]) => {
    for (const e of events) {
      if (e.type === 'permission-request') unresolved.set(e.id, e);
      else if ('requestId' in e) unresolved.delete(e.requestId);
    }
    listener?.(events);
  };
  return { store, notifier, clock, sends, activity, emit, held, unresolved };
}

const resolved = (requestId: string, seq: number) =>
  ({ type: 'permission-resolved', seq, requestId, decision: 'allow', decidedBy: 'http', timestamp: 0 }) as unknown as SequencedEvent;

describe('push notifier', () => {
  it('PUSH-7: a pushed request that finished while the server was down gets its permission-finished at start, once', async () => {
    const t = await setup({ sent: ['gone', 'still-waiting'], unresolved: [requestEvent('still-waiting', 2)] });
    expect(t.sends.map((s) => s.payload)).toEqual([{ type: 'permission-finished', id: 'gone' }]);
    expect(await t.store.sentRequestIds()).toEqual(['still-waiting']);
    // The one still waiting is not pushed again, and gets its "finished" when it ends.
    t.clock.increment(10_000);
    await t.notifier.settled();
    expect(t.sends).toHaveLength(1);
    t.emit(resolved('still-waiting', 3));
    await t.notifier.settled();
    expect(t.sends.map((s) => s.payload)).toEqual([
      { type: 'permission-finished', id: 'gone' },
      { type: 'permission-finished', id: 'still-waiting' },
    ]);
    expect(await t.store.sentRequestIds()).toEqual([]);
  });

  it('PUSH-6: a request already recorded as pushed is never pushed again', async () => {
    const t = await setup();
    await t.store.markSent('r1', 0); // e.g. another start of the same data directory
    t.emit(requestEvent('r1', 1));
    t.clock.increment(1_000);
    await t.notifier.settled();
    expect(t.activity).toEqual([{ type: 'checked', requestId: 'r1', result: 'already-pushed' }]);
    expect(t.sends).toEqual([]);
  });

  it('PUSH-8: sends are bounded: at most maxInFlight at once, at most maxQueued waiting, the rest dropped', async () => {
    const t = await setup({ subscriptions: 5, maxInFlight: 2, maxQueued: 2 });
    t.emit(requestEvent('r1', 1));
    t.clock.increment(1_000);
    await t.notifier.settled();
    expect(t.sends).toHaveLength(2);
    expect(t.activity.filter((a) => a.type === 'dropped')).toHaveLength(1);
    for (const s of t.sends.splice(0)) s.resolve({ ok: true, status: 201 });
    await new Promise((r) => setImmediate(r));
    expect(t.sends).toHaveLength(2);
    for (const s of t.sends.splice(0)) s.resolve({ ok: true, status: 201 });
    await t.notifier.drained();
    expect(t.activity.filter((a) => a.type === 'sent')).toHaveLength(4);
  });

  it('PUSH-5: a held request is not pushed; with no subscription nothing is recorded', async () => {
    const t = await setup({ subscriptions: 0 });
    t.emit(requestEvent('r1', 1), requestEvent('r2', 2));
    t.held.add('r1');
    t.clock.increment(1_000);
    await t.notifier.settled();
    expect(t.activity).toEqual([
      { type: 'checked', requestId: 'r1', result: 'held' },
      { type: 'checked', requestId: 'r2', result: 'no-subscriptions' },
    ]);
    expect(await t.store.sentRequestIds()).toEqual([]);
  });

  it('PUSH-8: after stop, timers are gone and nothing more is sent', async () => {
    const t = await setup();
    t.emit(requestEvent('r1', 1));
    expect(t.notifier.waiting).toBe(1);
    t.notifier.stop();
    expect(t.notifier.waiting).toBe(0);
    t.clock.increment(5_000);
    await t.notifier.settled();
    expect(t.sends).toEqual([]);
  });
  it('TEAM-S8: a request held by a screen of another instance is not pushed; asked only when no screen here holds it; a failed question pushes', async () => {
    const asked: string[] = [];
    const t = await setup({
      heldElsewhere: async (id) => {
        asked.push(id);
        if (id === 'broken') throw new Error('bus down');
        return id === 'there';
      },
    });
    t.held.add('here');
    t.emit(requestEvent('here', 1), requestEvent('there', 2), requestEvent('broken', 3), requestEvent('nowhere', 4));
    t.clock.increment(1_000);
    await t.notifier.settled();
    const results = Object.fromEntries(t.activity.flatMap((a) => (a.type === 'checked' ? [[a.requestId, a.result]] : [])));
    expect(results).toEqual({ here: 'held', there: 'held', broken: 'pushed', nowhere: 'pushed' });
    expect(asked.sort()).toEqual(['broken', 'nowhere', 'there']);
    expect(t.sends.map((s) => s.payload.id).sort()).toEqual(['broken', 'nowhere']);
  });
  it('TEAM-S8: a request acked here or finished while the other instances were asked is not pushed', async () => {
    let t: Awaited<ReturnType<typeof setup>> | undefined;
    t = await setup({
      heldElsewhere: async (id) => {
        if (id === 'acked-meanwhile') t?.held.add(id);
        if (id === 'finished-meanwhile') t?.emit(resolved(id, 3));
        return false;
      },
    });
    t.emit(requestEvent('acked-meanwhile', 1), requestEvent('finished-meanwhile', 2));
    t.clock.increment(1_000);
    await t.notifier.settled();
    const results = Object.fromEntries(t.activity.flatMap((a) => (a.type === 'checked' ? [[a.requestId, a.result]] : [])));
    expect(results).toEqual({ 'acked-meanwhile': 'held', 'finished-meanwhile': 'finished' });
    await t.notifier.drained();
    expect(t.sends).toEqual([]);
  });
});
