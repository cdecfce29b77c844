/**
 * The outbox across a reload: the real connection machine against a fake socket and a
 * SimulatedClock. Restored before the first connection, each entry goes out once caught
 * up with its own clientMsgId and its card shows it on its way; an entry whose request
 * finished meanwhile, or that this window already decides anew, is not sent; the kept
 * copy follows every change of the outbox, down to empty once the server answered.
 */
import { describe, expect, it } from 'vitest';
import { SimulatedClock, createActor, fromCallback } from 'xstate';
import type { SocketCommand, SocketInput } from '../../machines/connection.frames.ts';
import { decodeServerFrame } from '../../machines/connection.frames.ts';
import { connectionMachine } from '../../machines/connection.machine.ts';
import { restoreOutbox, emptyQueue, applyEvent, decide, type OutboxEntry } from '../../machines/queue.ts';
import type { PermissionRequestEvent, ServerMessage } from '../../protocol/index.ts';
import type { QueueSource } from './offlineQueue.ts';
import { keepOutbox, keptOutbox, type KeptOutbox } from './outboxStore.ts';

const request = (seq: number, id: string): PermissionRequestEvent => ({
  type: 'permission-request',
  seq,
  id,
  toolName: 'Bash',
  input: { command: `echo ${id}` },
  context: {},
  timestamp: 1_000_000,
  expiresAt: 2_000_000,
});

const entry = (requestId: string, clientMsgId: string, sent = false): OutboxEntry => ({
  clientMsgId,
  requestId,
  sent,
  frame: { type: 'permission-response', requestId, decision: 'allow', clientMsgId },
});

function harness(restored: OutboxEntry[]) {
  const clock = new SimulatedClock();
  clock.set(1_000_000);
  let serve: (m: ServerMessage) => void = () => undefined;
  const written: string[] = [];
  const socket = fromCallback<SocketCommand, SocketInput>(({ sendBack, receive }) => {
    serve = (m) => sendBack(decodeServerFrame(JSON.stringify(m)));
    receive((command) => written.push(command.data));
    return () => undefined;
  });
  const actor = createActor(connectionMachine.provide({ actors: { socket } }), { clock, input: { now: () => clock.now(), random: () => 0.5 } });
  actor.start();
  if (restored.length) actor.send({ type: 'queue.restore', entries: restored });
  const kept: KeptOutbox[] = [];
  keepOutbox(
    actor as unknown as QueueSource,
    async (v) => void kept.push(v),
    () => clock.now(),
  );
  actor.send({ type: 'connection.start' });
  const responses = () =>
    written.map((w) => JSON.parse(w) as { type: string; clientMsgId?: string; requestId?: string }).filter((f) => f.type === 'permission-response');
  return { actor, kept, serve: (m: ServerMessage) => serve(m), responses };
}

describe('the outbox across a reload', () => {
  it('HUM-9: restored before connecting, a decision goes out once caught up with its clientMsgId, its card shows it on its way, and the kept copy empties once acknowledged', () => {
    const h = harness([entry('r1', 'm-before-reload'), entry('gone', 'm-gone')]);
    expect(h.kept.at(-1)?.entries.map((e) => e.clientMsgId)).toEqual(['m-before-reload', 'm-gone']);
    h.serve({ type: 'welcome', protocol: 1, epoch: 'e1', seq: 1, resumed: false, clientId: 'c1' });
    expect(h.responses()).toEqual([]); // nothing before the snapshot
    h.serve({ type: 'snapshot', seq: 1, requests: [request(1, 'r1')], queue: { pending: 1, processing: 0 } });
    expect(h.responses().map((f) => [f.requestId, f.clientMsgId])).toEqual([['r1', 'm-before-reload']]);
    const card = h.actor.getSnapshot().context.queue.cards.r1;
    expect(card?.phase).toMatchObject({ kind: 'sending', decision: 'allow', clientMsgId: 'm-before-reload' });
    // A second click while it is on its way is refused (UI-5 holds for a restored one too).
    h.actor.send({ type: 'queue.decide', clientMsgId: 'm-again', requestId: 'r1', decision: 'deny' });
    expect(h.responses()).toHaveLength(1);
    h.serve({ type: 'ack', ref: 'm-before-reload', requestId: 'r1', status: 'accepted' });
    expect(h.kept.at(-1)?.entries).toEqual([]);
  });

  it('HUM-9: an entry for a request this window already decides, or a malformed one, is not restored', () => {
    let s = applyEvent(emptyQueue(), request(1, 'r1'));
    const d = decide(s, { requestId: 'r1', decision: 'deny', clientMsgId: 'live' }, false);
    if (!d.ok) throw new Error(d.reason);
    s = restoreOutbox(d.state, [entry('r1', 'old'), { ...entry('r2', 'x'), frame: { ...entry('r3', 'x').frame } }]);
    expect(s.outbox.map((e) => e.clientMsgId)).toEqual(['live']);
    expect(keptOutbox.safeParse({ savedAt: 1, entries: [{ clientMsgId: 'a', requestId: 'r', sent: false, frame: { type: 'nope' } }] }).success).toBe(false);
  });
});
