/**
 * The last known queue is saved from the live queue only: on every change of the waiting
 * requests while connected, never while reconnecting, and not again for the same queue.
 * The real connection machine against a fake socket and a SimulatedClock.
 */
import { describe, expect, it } from 'vitest';
import { SimulatedClock, createActor, fromCallback } from 'xstate';
import type { SocketCommand, SocketInput } from '../../machines/connection.frames.ts';
import { decodeServerFrame } from '../../machines/connection.frames.ts';
import { connectionMachine } from '../../machines/connection.machine.ts';
import type { ServerMessage } from '../../protocol/index.ts';
import type { LastQueue } from './lastQueue.ts';
import { keepLastQueue, type QueueSource } from './offlineQueue.ts';

function harness() {
  const clock = new SimulatedClock();
  clock.set(1_000_000);
  let serve: (m: ServerMessage) => void = () => undefined;
  let drop: () => void = () => undefined;
  const socket = fromCallback<SocketCommand, SocketInput>(({ sendBack }) => {
    serve = (m) => sendBack(decodeServerFrame(JSON.stringify(m)));
    drop = () => sendBack({ type: 'socket.closed', code: 1006, reason: '' });
    return () => undefined;
  });
  const actor = createActor(connectionMachine.provide({ actors: { socket } }), { clock, input: { now: () => clock.now(), random: () => 0.5 } });
  const saved: LastQueue[] = [];
  keepLastQueue(
    actor as unknown as QueueSource,
    async (v) => void saved.push(v),
    () => clock.now(),
  );
  actor.start();
  return { actor, clock, saved, serve: (m: ServerMessage) => serve(m), drop: () => drop(), ids: () => saved.map((s) => s.requests.map((r) => r.id)) };
}

const request = (seq: number, id: string) =>
  ({
    type: 'permission-request',
    seq,
    id,
    toolName: 'Bash',
    input: { command: `echo ${id}` },
    context: {},
    timestamp: 1_000_000,
    expiresAt: 2_000_000,
  }) as const;

describe('the last known queue', () => {
  it('APP-3: saved on every change of the waiting requests while connected, in queue order, once per change', () => {
    const h = harness();
    h.actor.send({ type: 'connection.start' });
    expect(h.saved).toEqual([]); // connecting: nothing known yet
    h.serve({ type: 'welcome', protocol: 1, epoch: 'e1', seq: 2, resumed: false, clientId: 'c1' });
    h.serve({ type: 'snapshot', seq: 2, requests: [request(2, 'r2'), request(1, 'r1')], queue: { pending: 2, processing: 0 } });
    expect(h.ids()).toEqual([['r1', 'r2']]);
    h.serve({ type: 'permission-queue-status', pending: 2, processing: 0 });
    expect(h.ids()).toEqual([['r1', 'r2']]); // same queue: no second write
    h.serve(request(3, 'r3'));
    h.serve({ type: 'permission-resolved', seq: 4, requestId: 'r1', decision: 'allow', decidedBy: 'http', timestamp: 1_000_100 });
    expect(h.ids()).toEqual([
      ['r1', 'r2'],
      ['r1', 'r2', 'r3'],
      ['r2', 'r3'],
    ]);
    expect(h.saved[0]?.requests[0]).toMatchObject({ id: 'r1', input: { command: 'echo r1' } });
  });

  it('APP-3: nothing is saved until caught up, nor while reconnecting: the copy is always a whole queue the server told', () => {
    const h = harness();
    h.actor.send({ type: 'connection.start' });
    h.serve({ type: 'welcome', protocol: 1, epoch: 'e1', seq: 3, resumed: false, clientId: 'c1' });
    h.serve({ type: 'snapshot', seq: 1, requests: [request(1, 'r1')], queue: { pending: 1, processing: 0 } });
    h.serve(request(2, 'r2'));
    expect(h.saved).toEqual([]); // still catching up to seq 3
    h.serve(request(3, 'r3'));
    expect(h.ids()).toEqual([['r1', 'r2', 'r3']]);
    h.drop();
    expect(h.actor.getSnapshot().value).toBe('reconnecting');
    h.actor.send({ type: 'queue.decide', clientMsgId: 'm1', requestId: 'r1', decision: 'allow' });
    expect(h.ids()).toEqual([['r1', 'r2', 'r3']]);
  });
});
