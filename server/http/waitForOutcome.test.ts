/**
 * The long-poll around the host's wait (SPEC.md CORE-B4): `waitForOutcome` arms
 * `host.awaitOutcome` before it reads the store, and releases that wait on every exit,
 * also when the read finds the request finished already (a log ahead of this broker:
 * another instance decided it, not folded here yet) or fails. Real SQLite (in memory),
 * the real host; time from a SimulatedClock.
 */
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { BrokerHost } from '../brokerHost.ts';
import { silentLogger } from '../log.ts';
import { SqliteEventStore } from '../store/sqliteStore.ts';
import type { EventStore } from '../store/types.ts';
import { waitForOutcome } from './createRequest.ts';

const T0 = 1_700_000_000_000;

async function pendingRequest() {
  const store = new SqliteEventStore({ dataDir: ':memory:' });
  const clock = new SimulatedClock();
  clock.set(T0);
  const host = new BrokerHost({ logger: silentLogger, store, clock }, store.loadNow({ now: clock.now() }));
  const answer = await host.create({ toolName: 'Bash', input: { command: 'ls' }, context: {}, timeoutMs: 120_000, origin: 'http' });
  if (answer.status !== 'created') throw new Error(`not created: ${answer.status}`);
  return { host, store, id: answer.id };
}

describe('waitForOutcome releases the host wait (CORE-B4)', () => {
  it('CORE-B4: a store read that finds the request finished returns at once and leaves no wait armed', async () => {
    const { host, store, id } = await pendingRequest();
    const stored = await store.getRequest(id);
    if (!stored) throw new Error('not stored');
    // The log says it is decided (another instance's decision), this broker does not know yet.
    const ahead: EventStore = Object.assign(Object.create(store) as EventStore, {
      getRequest: async () => ({ ...stored, status: 'resolved' as const, decision: 'allow' as const, decidedBy: 'bob', decidedAt: T0 }),
    });
    const caller = new AbortController();
    const result = await waitForOutcome({ store: ahead, host }, id, 60_000, caller.signal);
    expect(result).toMatchObject({ reason: 'finished', view: { status: 'resolved' } });
    expect(host.outcomeWaits).toBe(0);
    await host.stop();
  });

  it('CORE-B4: a store read that fails leaves no wait armed either', async () => {
    const { host, store, id } = await pendingRequest();
    const failing: EventStore = Object.assign(Object.create(store) as EventStore, {
      getRequest: async () => {
        throw new Error('store unreachable');
      },
    });
    await expect(waitForOutcome({ store: failing, host }, id, 60_000)).rejects.toThrow('store unreachable');
    expect(host.outcomeWaits).toBe(0);
    await host.stop();
  });

  it("CORE-B4: the caller's abort still ends the wait as aborted", async () => {
    const { host, store, id } = await pendingRequest();
    const caller = new AbortController();
    const waiting = waitForOutcome({ store, host }, id, 60_000, caller.signal);
    await new Promise((r) => setImmediate(r));
    expect(host.outcomeWaits).toBe(1);
    caller.abort();
    expect(await waiting).toMatchObject({ reason: 'aborted', view: { status: 'pending' } });
    expect(host.outcomeWaits).toBe(0);
    await host.stop();
  });
});
