/**
 * The device gate in the hub (docs/cluster.md, "Revocation"; SPEC.md TEAM-S7): on a shared
 * store a device socket's decision reaches the host only after the store said the device
 * exists; a socket's decisions keep their order whatever order the checks answer in, an
 * owner-token socket never waits, and an ended device's decision is refused.
 */
import { describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { BrokerHost } from '../brokerHost.ts';
import { silentLogger } from '../log.ts';
import { createDeviceGate } from '../security/deviceGate.ts';
import { SqliteEventStore } from '../store/sqliteStore.ts';
import { Hub } from './hub.ts';

/** A socket double whose written frames a test can await. */
function fakeSocket() {
  const frames: Record<string, any>[] = [];
  const waiters = new Set<() => void>();
  const raw = {
    readyState: 1,
    bufferedAmount: 0,
    send(text: string, done: (error?: Error | null) => void) {
      frames.push(JSON.parse(text));
      for (const wake of [...waiters]) wake();
      done(null);
    },
    on() {},
    ping() {},
    close() {
      raw.readyState = 3;
    },
    terminate() {
      raw.readyState = 3;
    },
  };
  const waitFor = (match: (f: Record<string, any>) => boolean) =>
    new Promise<Record<string, any>>((resolve) => {
      const probe = () => {
        const found = frames.find(match);
        if (!found) return;
        waiters.delete(probe);
        resolve(found);
      };
      waiters.add(probe);
      probe();
    });
  return { raw: raw as unknown as WebSocket, frames, waitFor };
}

/** A gate whose answers the test gives, one by one, in any order. */
function heldGate() {
  const asked: Array<{ id: string; answer: (exists: boolean) => void }> = [];
  const gate = (id: string) => new Promise<boolean>((resolve) => asked.push({ id, answer: resolve }));
  return { gate, asked };
}

function setup(gate: (id: string) => Promise<boolean>) {
  const store = new SqliteEventStore({ dataDir: ':memory:' });
  const host = new BrokerHost({ store, logger: silentLogger }, store.loadNow({ now: Date.now() }));
  const hub = new Hub({ host, store, logger: silentLogger, maxBufferedBytes: 8 << 20, pingIntervalMs: 60_000, rateLimit: 2_000, deviceGate: gate });
  const create = async (command: string) =>
    ((await host.create({ toolName: 'Bash', input: { command }, timeoutMs: 60_000, origin: 'http' })) as { id: string }).id;
  return { store, host, hub, create };
}

const decision = (requestId: string, clientMsgId: string, decision: 'allow' | 'deny' = 'allow') =>
  JSON.stringify({ type: 'permission-response', requestId, decision, clientMsgId });

describe('TEAM-S7: the device gate', () => {
  it('TEAM-S7: a device socket’s decisions reach the host in the order they arrived, also when the later check answers first; an owner socket does not wait', async () => {
    const held = heldGate();
    const { host, hub, create } = setup(held.gate);
    const first = await create('one');
    const second = await create('two');
    const phone = fakeSocket();
    const conn = hub.attach(phone.raw, { browser: true, device: { id: 'dev-0123456789abcdef', name: 'Phone' } });
    const owner = fakeSocket();
    const ownerConn = hub.attach(owner.raw, { browser: true });
    await phone.waitFor((f) => f.type === 'welcome');
    await owner.waitFor((f) => f.type === 'welcome');

    // Two decisions for one request: the first in line must win, whichever check answers first.
    hub.onFrame(conn, decision(first, 'p-1', 'allow'));
    hub.onFrame(conn, decision(first, 'p-2', 'deny'));
    expect(held.asked.map((a) => a.id)).toEqual(['dev-0123456789abcdef', 'dev-0123456789abcdef']);
    // The owner's socket is not gated: decided while the phone's checks still wait.
    hub.onFrame(ownerConn, decision(second, 'o-1'));
    expect(await owner.waitFor((f) => f.ref === 'o-1')).toMatchObject({ type: 'ack', status: 'accepted' });
    expect(held.asked).toHaveLength(2);

    held.asked[1]!.answer(true);
    held.asked[0]!.answer(true);
    expect(await phone.waitFor((f) => f.ref === 'p-1')).toMatchObject({ type: 'ack', status: 'accepted' });
    expect(await phone.waitFor((f) => f.ref === 'p-2')).toMatchObject({ type: 'error', code: 'already-resolved', decision: 'allow' });
    expect(phone.frames.findIndex((f) => f.ref === 'p-1')).toBeLessThan(phone.frames.findIndex((f) => f.ref === 'p-2'));
    await host.stop();
  });

  it('TEAM-S7: an ended device’s decision is refused (unauthorized) and its socket closed; the request stays pending', async () => {
    const held = heldGate();
    const { host, hub, create } = setup(held.gate);
    const id = await create('one');
    const phone = fakeSocket();
    const conn = hub.attach(phone.raw, { browser: true, device: { id: 'dev-0123456789abcdef', name: 'Phone' } });
    await phone.waitFor((f) => f.type === 'welcome');
    hub.onFrame(conn, decision(id, 'p-1'));
    held.asked[0]!.answer(false);
    expect(await phone.waitFor((f) => f.ref === 'p-1')).toMatchObject({ type: 'error', code: 'unauthorized', requestId: id });
    expect(hub.clientsOf('dev-0123456789abcdef')).toEqual([]);
    expect(host.unresolvedContext(id)).not.toBeUndefined();
    await host.stop();
  });

  it('TEAM-S7: a store that does not answer decides nothing (internal error); the request stays pending', async () => {
    const { host, hub, create } = setup(() => Promise.reject(new Error('connection refused')));
    const id = await create('one');
    const phone = fakeSocket();
    const conn = hub.attach(phone.raw, { browser: true, device: { id: 'dev-0123456789abcdef', name: 'Phone' } });
    await phone.waitFor((f) => f.type === 'welcome');
    hub.onFrame(conn, decision(id, 'p-1'));
    expect(await phone.waitFor((f) => f.ref === 'p-1')).toMatchObject({ type: 'error', code: 'internal', requestId: id });
    expect(host.unresolvedContext(id)).not.toBeUndefined();
    await host.stop();
  });

  it('TEAM-S7: checks asked in one turn share one store read; a check asked once that read started gets a read of its own', async () => {
    const reads: string[][] = [];
    let release: (() => void) | undefined;
    let started: () => void = () => {};
    const firstStarted = new Promise<void>((resolve) => (started = resolve));
    const gate = createDeviceGate({
      existing: async (ids) => {
        reads.push([...ids]);
        if (reads.length === 1) {
          const held = new Promise<void>((resolve) => (release = resolve));
          started();
          await held;
        }
        return new Set(ids.filter((i) => i !== 'dev-gone'));
      },
    });
    const one = gate('dev-a');
    const two = gate('dev-gone');
    const three = gate('dev-a');
    // Wait until the first read has started, then ask again: that one must not ride on it.
    await firstStarted;
    const four = gate('dev-b');
    release!();
    expect(await Promise.all([one, two, three, four])).toEqual([true, false, true, true]);
    expect(reads).toEqual([['dev-a', 'dev-gone'], ['dev-b']]);
  });
});
