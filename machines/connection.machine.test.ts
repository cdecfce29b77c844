/**
 * The connection machine against a fake socket (real code: frames go through the same
 * decoder as the browser's) and a SimulatedClock. No sleeps: time moves by `advance`.
 */
import { describe, expect, it } from 'vitest';
import { SimulatedClock, createActor, fromCallback } from 'xstate';
import type { ServerMessage } from '../protocol/index.ts';
import type { SocketCommand, SocketInput } from './connection.frames.ts';
import { decodeServerFrame } from './connection.frames.ts';
import type { ConnectionEmitted } from './connection.machine.ts';
import { BACKOFF, TIMING, connectionMachine } from './connection.machine.ts';
import * as queue from './queue.ts';

type FakeSocket = {
  input: SocketInput;
  sent: Array<Record<string, unknown>>;
  closed: boolean;
  serve: (message: ServerMessage | string) => void;
  drop: (code?: number) => void;
};

function harness(opts: { visible?: boolean; random?: number } = {}) {
  const clock = new SimulatedClock();
  clock.set(1_000_000);
  const sockets: FakeSocket[] = [];
  let random = opts.random ?? 0.5;
  const socket = fromCallback<SocketCommand, SocketInput>(({ sendBack, receive, input }) => {
    const s: FakeSocket = {
      input,
      sent: [],
      closed: false,
      serve: (message) => sendBack(decodeServerFrame(typeof message === 'string' ? message : JSON.stringify(message))),
      drop: (code = 1006) => sendBack({ type: 'socket.closed', code, reason: '' }),
    };
    sockets.push(s);
    receive((cmd) => s.sent.push(JSON.parse(cmd.data) as Record<string, unknown>));
    return () => {
      s.closed = true;
    };
  });
  const actor = createActor(connectionMachine.provide({ actors: { socket } }), {
    clock,
    input: { now: () => clock.now(), random: () => random, visible: opts.visible ?? true },
  });
  const emitted: ConnectionEmitted[] = [];
  actor.on('*', (e) => emitted.push(e));
  actor.start();
  /** The socket opened last; a test that expects one fails here when there is none. */
  const last = () => {
    const socket = sockets[sockets.length - 1];
    if (!socket) throw new Error('no socket opened yet');
    return socket;
  };
  return {
    actor,
    clock,
    sockets,
    emitted,
    last,
    setRandom: (r: number) => {
      random = r;
    },
    advance: (ms: number) => clock.increment(ms),
    value: () => actor.getSnapshot().value,
    ctx: () => actor.getSnapshot().context,
    sentOfType: (type: string) => sockets.flatMap((s) => s.sent).filter((f) => f.type === type),
  };
}

const EPOCH = 'epoch-1';
const welcome = (seq: number, resumed: boolean, epoch = EPOCH): ServerMessage => ({
  type: 'welcome',
  protocol: 1,
  epoch,
  seq,
  resumed,
  clientId: 'client-a',
});
const request = (seq: number, id: string, expiresAt = 2_000_000): ServerMessage => ({
  type: 'permission-request',
  seq,
  id,
  toolName: 'Bash',
  input: { command: `echo ${id}` },
  context: { sessionId: 's1' },
  timestamp: 1_000_000 + seq,
  expiresAt,
});
const snapshot = (seq: number, ids: Array<[number, string]>): ServerMessage => ({
  type: 'snapshot',
  seq,
  requests: ids.map(([s, id]) => request(s, id) as Extract<ServerMessage, { type: 'permission-request' }>),
  queue: { pending: ids.length, processing: 0 },
});
const resolved = (seq: number, requestId: string, decidedBy: string, decision: 'allow' | 'deny' = 'allow'): ServerMessage => ({
  type: 'permission-resolved',
  seq,
  requestId,
  decision,
  decidedBy,
  timestamp: 1_000_500,
});

/** Connect fresh with a snapshot holding `ids`. */
function connected(h: ReturnType<typeof harness>, head: number, ids: Array<[number, string]>) {
  h.actor.send({ type: 'connection.start' });
  h.last().serve(welcome(head, false));
  h.last().serve(snapshot(head, ids));
}

describe('connection machine', () => {
  it('CONN-1: starts idle, connects without since, and holds the snapshot after resumed:false', () => {
    const h = harness();
    expect(h.value()).toBe('idle');
    h.actor.send({ type: 'connection.start' });
    expect(h.value()).toEqual({ link: 'connecting' });
    expect(h.last().input).toEqual({});
    connected(h, 5, []);
    h.last().serve(
      snapshot(5, [
        [2, 'r2'],
        [1, 'r1'],
      ]),
    );
    expect(h.actor.getSnapshot().matches({ link: { open: { sync: 'live' } } })).toBe(true);
    expect(h.ctx().queue.order).toEqual(['r1', 'r2']); // UI-1: oldest first
    expect(h.ctx().lastSeq).toBe(5);
    expect(h.ctx().epoch).toBe(EPOCH);
  });

  it('CONN-2: reconnect delays use exponential backoff with full jitter, capped at 5 s while visible', () => {
    const h = harness({ random: 0.999 });
    h.actor.send({ type: 'connection.start' });
    const delays: number[] = [];
    for (let i = 0; i < 7; i++) {
      h.last().drop();
      expect(h.value()).toBe('reconnecting');
      delays.push(h.ctx().retryDelayMs);
      h.advance(h.ctx().retryDelayMs);
      expect(h.value()).toEqual({ link: 'connecting' });
    }
    expect(delays).toEqual([249, 499, 999, 1998, 3996, 4995, 4995]);
    // Full jitter: a random of 0 retries at once.
    h.setRandom(0);
    h.last().drop();
    expect(h.ctx().retryDelayMs).toBe(0);
  });

  it('CONN-2: while the tab is hidden the cap is 30 s', () => {
    const h = harness({ random: 0.999, visible: false });
    h.actor.send({ type: 'connection.start' });
    for (let i = 0; i < 9; i++) {
      h.last().drop();
      h.advance(h.ctx().retryDelayMs);
    }
    h.last().drop();
    expect(h.ctx().retryDelayMs).toBe(Math.floor(0.999 * BACKOFF.hiddenCapMs));
  });

  it('CONN-3: after a minute of failures the breaker stops retrying until retry, visibility or online', () => {
    const h = harness({ random: 0.999 });
    h.actor.send({ type: 'connection.start' });
    while (h.value() !== 'offline') {
      h.last().drop();
      if (h.value() === 'offline') break;
      h.advance(h.ctx().retryDelayMs);
    }
    expect(h.clock.now() - 1_000_000).toBeGreaterThanOrEqual(BACKOFF.breakerMs);
    const count = h.sockets.length;
    h.advance(10 * 60_000);
    expect(h.sockets.length).toBe(count); // no retries while offline
    h.actor.send({ type: 'connection.retry' });
    expect(h.value()).toEqual({ link: 'connecting' });
    expect(h.ctx().attempt).toBe(0);

    // The breaker re-arms, then the network coming back reconnects.
    for (;;) {
      h.last().drop();
      if (h.value() === 'offline') break;
      h.advance(h.ctx().retryDelayMs);
    }
    h.actor.send({ type: 'connection.online' });
    expect(h.value()).toEqual({ link: 'connecting' });

    for (;;) {
      h.last().drop();
      if (h.value() === 'offline') break;
      h.advance(h.ctx().retryDelayMs);
    }
    h.actor.send({ type: 'connection.visibility', visible: false });
    expect(h.value()).toBe('offline');
    h.actor.send({ type: 'connection.visibility', visible: true });
    expect(h.value()).toEqual({ link: 'connecting' });
  });

  it('CONN-4: a reconnect resumes with since and epoch, and a resumed stream is applied in order', () => {
    const h = harness();
    connected(h, 2, [
      [1, 'r1'],
      [2, 'r2'],
    ]);
    h.last().serve(request(3, 'r3'));
    h.last().drop();
    h.advance(h.ctx().retryDelayMs);
    expect(h.last().input).toEqual({ since: 3, epoch: EPOCH });
    h.last().serve(welcome(4, true));
    expect(h.actor.getSnapshot().matches({ link: { open: { sync: 'catchingUp' } } })).toBe(true);
    h.last().serve(resolved(4, 'r1', 'client-b'));
    expect(h.actor.getSnapshot().matches({ link: { open: { sync: 'live' } } })).toBe(true);
    expect(h.ctx().queue.order).toEqual(['r2', 'r3']);
    expect(h.ctx().stats.resumes).toBe(1);
    expect(h.emitted.some((e) => e.type === 'chat.reload' && h.ctx().stats.fresh > 1)).toBe(false);
  });

  it('CONN-5: a seq that skips closes the socket and resumes from what is held', () => {
    const h = harness();
    connected(h, 1, [[1, 'r1']]);
    const first = h.last();
    first!.serve(request(3, 'r3')); // seq 2 is missing
    expect(first?.closed).toBe(true);
    expect(h.sockets.length).toBe(2);
    expect(h.last().input).toEqual({ since: 1, epoch: EPOCH });
    expect(h.ctx().queue.cards.r3).toBeUndefined();
    expect(h.ctx().stats.gaps).toBe(1);
  });

  it('CONN-6: an event already held (seq <= lastSeq) is dropped', () => {
    const h = harness();
    connected(h, 1, [[1, 'r1']]);
    h.last().serve(request(2, 'r2'));
    h.last().serve(resolved(3, 'r2', 'client-b'));
    h.last().serve(request(2, 'r2')); // duplicate of a held event
    expect(h.ctx().queue.cards.r2).toBeUndefined();
    expect(h.ctx().stats.dropped).toBe(1);
    expect(h.ctx().lastSeq).toBe(3);
  });

  it('CONN-7: resumed:false rebuilds from the snapshot and asks for the chat history again', () => {
    const h = harness();
    connected(h, 2, [
      [1, 'r1'],
      [2, 'r2'],
    ]);
    h.last().drop();
    h.advance(h.ctx().retryDelayMs);
    const reloads = h.emitted.filter((e) => e.type === 'chat.reload').length;
    h.last().serve(welcome(9, false, 'epoch-2'));
    h.last().serve(
      snapshot(9, [
        [2, 'r2'],
        [8, 'r8'],
      ]),
    );
    expect(h.emitted.filter((e) => e.type === 'chat.reload').length).toBe(reloads + 1);
    expect(h.ctx().epoch).toBe('epoch-2');
    expect(h.ctx().lastSeq).toBe(9);
    expect(h.ctx().queue.order).toEqual(['r2', 'r8']);
    expect(h.ctx().queue.history[0]).toMatchObject({ requestId: 'r1', outcome: 'unknown' });
    expect(h.emitted.filter((e) => e.type === 'request.arrived').map((e) => (e.type === 'request.arrived' ? e.request.id : ''))).toEqual(['r1', 'r2', 'r8']);
  });

  it('CONN-8: app-level ping measures latency; a missing pong reconnects', () => {
    const h = harness();
    connected(h, 0, []);
    const ping = h.last().sent.find((f) => f.type === 'ping'); // the first one at once
    expect(ping).toBeDefined();
    h.advance(42);
    h.last().serve({ type: 'pong', id: 999 }); // not ours: ignored
    h.last().serve({ type: 'pong', id: ping!.id as number });
    expect(h.ctx().latencyMs).toBe(42);
    h.advance(TIMING.pingIntervalMs);
    expect(h.sentOfType('ping')).toHaveLength(2);
    h.advance(TIMING.pongTimeoutMs);
    expect(h.value()).toBe('reconnecting');
    expect(h.last().closed).toBe(true);
  });

  it('CONN-9: acks for held events are coalesced into one frame', () => {
    const h = harness();
    connected(h, 0, []);
    h.advance(TIMING.ackDelayMs);
    h.last().sent.length = 0;
    h.last().serve(request(1, 'r1'));
    h.last().serve(request(2, 'r2'));
    h.last().serve(request(3, 'r3'));
    expect(h.sentOfType('ack')).toEqual([]);
    h.advance(TIMING.ackDelayMs);
    expect(h.sentOfType('ack')).toEqual([{ type: 'ack', seq: 3 }]);
  });

  it('CONN-10: close code 4000 (slow consumer) resumes at once without backoff', () => {
    const h = harness();
    connected(h, 1, [[1, 'r1']]);
    h.last().drop(4000);
    expect(h.value()).toEqual({ link: 'connecting' });
    expect(h.last().input).toEqual({ since: 1, epoch: EPOCH });
  });

  it('CONN-11: server errors that are not about a decision are kept for the header; bad frames too', () => {
    const h = harness();
    connected(h, 0, []);
    h.last().serve({ type: 'error', code: 'rate-limited', message: 'slow down' });
    h.last().serve('{not json');
    expect(h.ctx().errors.map((e) => e.code)).toEqual(['invalid-server-frame', 'rate-limited']);
    h.actor.send({ type: 'errors.dismiss' });
    expect(h.ctx().errors).toEqual([]);
  });
});

describe('outbox and optimistic decisions', () => {
  it('UI-2: a click is optimistic at once, and the ack confirms it', () => {
    const h = harness();
    connected(h, 1, [[1, 'r1']]);
    h.actor.send({ type: 'queue.decide', requestId: 'r1', decision: 'allow', clientMsgId: 'm1' });
    expect(h.ctx().queue.cards.r1?.phase).toEqual({ kind: 'sending', decision: 'allow', clientMsgId: 'm1' });
    expect(h.sentOfType('permission-response')).toEqual([{ type: 'permission-response', requestId: 'r1', decision: 'allow', clientMsgId: 'm1' }]);
    h.last().serve({ type: 'ack', ref: 'm1', requestId: 'r1', status: 'accepted' });
    expect(h.ctx().queue.cards.r1?.phase.kind).toBe('accepted');
    h.last().serve(resolved(2, 'r1', 'some-label'));
    expect(h.ctx().queue.history[0]).toMatchObject({ requestId: 'r1', outcome: 'allowed', decider: 'this-window' });
  });

  it('UI-3: an error rolls the card back to the truth (decided elsewhere)', () => {
    const h = harness();
    connected(h, 1, [[1, 'r1']]);
    h.actor.send({ type: 'queue.decide', requestId: 'r1', decision: 'allow', clientMsgId: 'm1' });
    // The other window's decision arrives before our error.
    h.last().serve(resolved(2, 'r1', 'client-b', 'deny'));
    expect(h.ctx().queue.history[0]?.decider).toBe('unconfirmed');
    h.last().serve({ type: 'error', code: 'already-resolved', message: 'decided', ref: 'm1', requestId: 'r1', decision: 'deny' });
    expect(h.ctx().queue.history[0]).toMatchObject({ decider: 'another-window', outcome: 'denied' });
    expect(h.ctx().queue.history[0]?.note).toContain('did not count');
    expect(h.ctx().queue.outbox).toEqual([]);
    expect(h.ctx().errors).toEqual([]); // not a general error
  });

  it('UI-3: an error while the card is still queued shows the rejected phase', () => {
    const h = harness();
    connected(h, 1, [[1, 'r1']]);
    h.actor.send({ type: 'queue.decide', requestId: 'r1', decision: 'deny', clientMsgId: 'm1', message: 'no' });
    h.last().serve({ type: 'error', code: 'expired', message: 'timed out', ref: 'm1', requestId: 'r1' });
    expect(h.ctx().queue.cards.r1?.phase).toMatchObject({ kind: 'rejected', code: 'expired' });
  });

  it('UI-4: a decision made offline waits in the outbox and goes out after the reconnect catches up', () => {
    const h = harness();
    connected(h, 2, [
      [1, 'r1'],
      [2, 'r2'],
    ]);
    h.last().drop();
    h.actor.send({ type: 'queue.decide', requestId: 'r1', decision: 'allow', clientMsgId: 'm1' });
    h.actor.send({ type: 'queue.decide', requestId: 'r2', decision: 'deny', clientMsgId: 'm2' });
    expect(h.ctx().queue.cards.r1?.phase.kind).toBe('queued');
    expect(h.sentOfType('permission-response')).toEqual([]);
    h.advance(h.ctx().retryDelayMs);
    h.last().serve(welcome(3, true));
    // Not caught up yet: nothing goes out before the replay says what still stands.
    expect(h.last().sent.filter((f) => f.type === 'permission-response')).toEqual([]);
    h.last().serve({ type: 'permission-timeout', seq: 3, requestId: 'r2', toolName: 'Bash', timestamp: 1 });
    const sent = h.last().sent.filter((f) => f.type === 'permission-response');
    expect(sent).toEqual([{ type: 'permission-response', requestId: 'r1', decision: 'allow', clientMsgId: 'm1' }]);
    expect(h.ctx().queue.cards.r1?.phase.kind).toBe('sending');
    const r2 = h.ctx().queue.history.find((e) => e.requestId === 'r2');
    expect(r2).toMatchObject({ outcome: 'timedOut', decider: 'deadline' });
    expect(r2?.note).toContain('expired while offline');
  });

  it('UI-4: a sent but unanswered decision is sent again with the same clientMsgId after a reconnect', () => {
    const h = harness();
    connected(h, 1, [[1, 'r1']]);
    h.actor.send({ type: 'queue.decide', requestId: 'r1', decision: 'allow', clientMsgId: 'm1' });
    h.last().drop();
    h.advance(h.ctx().retryDelayMs);
    h.last().serve(welcome(1, true));
    expect(h.last().sent.filter((f) => f.type === 'permission-response')).toEqual([
      { type: 'permission-response', requestId: 'r1', decision: 'allow', clientMsgId: 'm1' },
    ]);
  });

  it('UI-5: a second click on a card already deciding is refused, not sent twice', () => {
    const h = harness();
    connected(h, 1, [[1, 'r1']]);
    h.actor.send({ type: 'queue.decide', requestId: 'r1', decision: 'allow', clientMsgId: 'm1' });
    h.actor.send({ type: 'queue.decide', requestId: 'r1', decision: 'deny', clientMsgId: 'm2' });
    expect(h.sentOfType('permission-response')).toHaveLength(1);
    expect(h.emitted).toContainEqual({ type: 'decision.refused', requestId: 'r1', reason: 'already-deciding' });
  });

  it('UI-6: a decision by another window reads as decided elsewhere; rules and deadlines are named', () => {
    const h = harness();
    connected(h, 3, [
      [1, 'r1'],
      [2, 'r2'],
      [3, 'r3'],
    ]);
    h.last().serve(resolved(4, 'r1', 'client-b'));
    h.last().serve(resolved(5, 'r2', 'rule:abc'));
    h.last().serve({ type: 'permission-timeout', seq: 6, requestId: 'r3', toolName: 'Bash', timestamp: 1 });
    expect(h.ctx().queue.history.map((e) => e.decider)).toEqual(['deadline', 'rule', 'another-window']);
  });
});

describe('snapshot in parts (contract-2 §3)', () => {
  const first = (seq: number, ids: Array<[number, string]>, pending: number): ServerMessage => ({
    ...(snapshot(seq, ids) as Extract<ServerMessage, { type: 'snapshot' }>),
    queue: { pending, processing: 0 },
    more: true,
  });
  const part = (ids: Array<[number, string]>, more: boolean): ServerMessage => ({
    type: 'snapshot-part',
    requests: ids.map(([s, id]) => request(s, id) as Extract<ServerMessage, { type: 'permission-request' }>),
    more,
  });

  it('LIM-3: the parts are held, applied whole after the last one, and only then live events are taken', () => {
    const h = harness();
    h.actor.send({ type: 'connection.start' });
    h.last().serve(welcome(6, false));
    h.last().serve(
      first(
        6,
        [
          [1, 'r1'],
          [2, 'r2'],
        ],
        5,
      ),
    );
    // Nothing applied yet: the queue shows no half truth, and we are not live.
    expect(h.ctx().queue.order).toEqual([]);
    expect(h.ctx().needSnapshot).toBe(true);
    expect(h.actor.getSnapshot().matches({ link: { open: { sync: 'catchingUp' } } })).toBe(true);
    h.last().serve(
      part(
        [
          [3, 'r3'],
          [4, 'r4'],
        ],
        true,
      ),
    );
    expect(h.ctx().queue.order).toEqual([]);
    h.last().serve(part([[6, 'r6']], false));
    expect(h.ctx().queue.order).toEqual(['r1', 'r2', 'r3', 'r4', 'r6']);
    expect(h.ctx().lastSeq).toBe(6);
    expect(h.ctx().queue.counts).toEqual({ pending: 5, processing: 0 });
    expect(h.ctx().snapshotParts).toBeNull();
    expect(h.actor.getSnapshot().matches({ link: { open: { sync: 'live' } } })).toBe(true);
    expect(h.emitted.filter((e) => e.type === 'request.arrived')).toHaveLength(5);
    // Live from HEAD + 1.
    h.last().serve(resolved(7, 'r3', 'client-b'));
    expect(h.ctx().queue.order).toEqual(['r1', 'r2', 'r4', 'r6']);
    expect(h.ctx().lastSeq).toBe(7);
    h.advance(TIMING.ackDelayMs);
    expect(h.sentOfType('ack')).toEqual([{ type: 'ack', seq: 7 }]);
  });

  it('LIM-3: no ack and no decision goes out before the last part; an event before it is not applied', () => {
    const h = harness();
    h.actor.send({ type: 'connection.start' });
    h.last().serve(welcome(3, false));
    h.last().serve(first(3, [[1, 'r1']], 2));
    h.actor.send({ type: 'queue.decide', requestId: 'r1', decision: 'allow', clientMsgId: 'm1' });
    h.last().serve(request(4, 'r4')); // a server that broke the order: not applied
    h.advance(TIMING.ackDelayMs * 3);
    expect(h.sentOfType('ack')).toEqual([]);
    expect(h.sentOfType('permission-response')).toEqual([]);
    expect(h.ctx().queue.cards.r4).toBeUndefined();
    h.last().serve(part([[3, 'r3']], false));
    expect(h.ctx().queue.order).toEqual(['r1', 'r3']);
  });

  it('LIM-3: a drop mid-snapshot discards the parts and reconnects afresh (no since), then applies only the new snapshot', () => {
    const h = harness();
    connected(h, 2, [
      [1, 'r1'],
      [2, 'r2'],
    ]);
    h.last().drop();
    h.advance(h.ctx().retryDelayMs);
    h.last().serve(welcome(9, false, 'epoch-2'));
    h.last().serve(first(9, [[8, 'r8']], 3));
    h.last().serve(part([[9, 'r9']], true));
    h.last().drop(4000);
    // It holds no whole snapshot of epoch-2: resuming with since would skip what it never got.
    expect(h.last().input).toEqual({});
    expect(h.ctx().snapshotParts).toBeNull();
    expect(h.ctx().queue.order).toEqual(['r1', 'r2']); // the old truth until the new one is whole
    h.last().serve(welcome(10, false, 'epoch-2'));
    h.last().serve(first(10, [[9, 'r9']], 2));
    h.last().serve(part([[10, 'r10']], false));
    expect(h.ctx().queue.order).toEqual(['r9', 'r10']);
    expect(h.ctx().lastSeq).toBe(10);
    expect(h.ctx().queue.cards.r8).toBeUndefined();
  });

  it('LIM-3: a drop after welcome resumed:false and before any snapshot also starts afresh', () => {
    const h = harness();
    connected(h, 2, [
      [1, 'r1'],
      [2, 'r2'],
    ]);
    h.last().drop();
    h.advance(h.ctx().retryDelayMs);
    h.last().serve(welcome(9, false, 'epoch-2'));
    h.last().drop();
    h.advance(h.ctx().retryDelayMs);
    expect(h.last().input).toEqual({});
  });

  it('LIM-3: a snapshot-part with no snapshot before it is noted and the client starts afresh', () => {
    const h = harness();
    h.actor.send({ type: 'connection.start' });
    h.last().serve(welcome(3, false));
    const socket = h.last();
    socket!.serve(part([[1, 'r1']], false));
    expect(socket?.closed).toBe(true);
    expect(h.ctx().errors[0]).toMatchObject({ code: 'invalid-server-frame' });
    expect(h.last().input).toEqual({});
    expect(h.ctx().queue.order).toEqual([]);
  });

  it('LIM-3: a snapshot that fits one frame (no more) is applied at once, as in v1', () => {
    const h = harness();
    connected(h, 2, [
      [1, 'r1'],
      [2, 'r2'],
    ]);
    expect(h.ctx().queue.order).toEqual(['r1', 'r2']);
    expect(h.ctx().snapshotParts).toBeNull();
  });
});

describe('the outbox after a reconnect (CORE-2)', () => {
  // Each connection gets a new clientId, as the real server gives it.
  const welcomeAs = (clientId: string, seq: number, resumed: boolean): ServerMessage => ({
    ...(welcome(seq, resumed) as Extract<ServerMessage, { type: 'welcome' }>),
    clientId,
  });
  const decidedThenDropped = () => {
    const h = harness();
    connected(h, 1, [[1, 'r1']]);
    h.actor.send({ type: 'queue.decide', requestId: 'r1', decision: 'allow', clientMsgId: 'm1' });
    expect(h.sentOfType('permission-response')).toHaveLength(1);
    h.last().drop();
    h.advance(h.ctx().retryDelayMs);
    return h;
  };
  const historyOf = (h: ReturnType<typeof harness>, id: string) => h.ctx().queue.history.find((e) => e.requestId === id)!;

  it('CORE-2: dropped before the ack, the decision committed: the replayed outcome under our old id settles it, nothing is sent again', () => {
    const h = decidedThenDropped();
    h.last().serve(welcomeAs('client-b', 2, true));
    h.last().serve(resolved(2, 'r1', 'client-a'));
    expect(historyOf(h, 'r1')).toMatchObject({ outcome: 'allowed', decider: 'this-window' });
    expect(queue.describeOutcome(historyOf(h, 'r1'))).toBe('Allowed by you (this window)');
    expect(h.ctx().queue.outbox).toEqual([]);
    expect(h.last().sent.filter((f) => f.type === 'permission-response')).toEqual([]);
  });

  it('CORE-2: dropped before the server got it, and another window decided meanwhile: re-sent with its clientMsgId, the refusal settles it', () => {
    const h = decidedThenDropped();
    h.last().serve(welcomeAs('client-b', 2, true));
    h.last().serve(resolved(2, 'r1', 'client-x', 'deny'));
    expect(historyOf(h, 'r1').decider).toBe('unconfirmed');
    // Caught up: the frame goes again, the same clientMsgId (the server answers it once, WS-6).
    expect(h.last().sent.filter((f) => f.type === 'permission-response')).toEqual([
      { type: 'permission-response', requestId: 'r1', decision: 'allow', clientMsgId: 'm1' },
    ]);
    h.last().serve({ type: 'error', code: 'already-resolved', message: 'decided', ref: 'm1', requestId: 'r1', decision: 'deny' });
    expect(historyOf(h, 'r1')).toMatchObject({ outcome: 'denied', decider: 'another-window' });
    expect(queue.describeOutcome(historyOf(h, 'r1'))).not.toContain('confirming');
    expect(h.ctx().queue.outbox).toEqual([]);
  });

  it('CORE-2: dropped before the server got it, still pending: re-sent, and the ack and outcome read as this window', () => {
    const h = decidedThenDropped();
    h.last().serve(welcomeAs('client-b', 1, true));
    expect(h.last().sent.filter((f) => f.type === 'permission-response')).toEqual([
      { type: 'permission-response', requestId: 'r1', decision: 'allow', clientMsgId: 'm1' },
    ]);
    h.last().serve({ type: 'ack', ref: 'm1', requestId: 'r1', status: 'accepted' });
    h.last().serve(resolved(2, 'r1', 'client-b'));
    expect(historyOf(h, 'r1')).toMatchObject({ outcome: 'allowed', decider: 'this-window' });
    expect(h.ctx().queue.outbox).toEqual([]);
  });

  it('CORE-2: a replayed outcome that raced our in-flight decision, then a second drop: still settled by the ack on the next connection', () => {
    const h = decidedThenDropped();
    h.last().serve(welcomeAs('client-b', 2, true));
    h.last().serve(resolved(2, 'r1', 'client-x'));
    h.last().drop();
    h.advance(h.ctx().retryDelayMs);
    h.last().serve(welcomeAs('client-c', 2, true));
    expect(h.last().sent.filter((f) => f.type === 'permission-response')).toHaveLength(1);
    h.last().serve({ type: 'error', code: 'already-resolved', message: 'decided', ref: 'm1', requestId: 'r1', decision: 'allow' });
    expect(historyOf(h, 'r1')).toMatchObject({ outcome: 'allowed', decider: 'another-window' });
  });

  it('CORE-2: resumed:false and a snapshot without the request: "finished while disconnected", then the re-sent decision\'s ack tells the outcome', () => {
    const h = decidedThenDropped();
    h.last().serve(welcomeAs('client-b', 5, false));
    h.last().serve(snapshot(5, []));
    expect(historyOf(h, 'r1')).toMatchObject({ outcome: 'unknown', decider: 'unknown', note: 'Finished while this window was disconnected.' });
    expect(h.last().sent.filter((f) => f.type === 'permission-response')).toEqual([
      { type: 'permission-response', requestId: 'r1', decision: 'allow', clientMsgId: 'm1' },
    ]);
    h.last().serve({ type: 'ack', ref: 'm1', requestId: 'r1', status: 'accepted' });
    expect(historyOf(h, 'r1')).toMatchObject({ outcome: 'allowed', decider: 'this-window', note: 'Finished while this window was disconnected.' });
    expect(h.ctx().queue.outbox).toEqual([]);
  });

  it('CORE-2: resumed:false and a snapshot without the request, which timed out: the refusal tells the outcome', () => {
    const h = decidedThenDropped();
    h.last().serve(welcomeAs('client-b', 5, false));
    h.last().serve(snapshot(5, []));
    h.last().serve({ type: 'error', code: 'expired', message: 'timed out', ref: 'm1', requestId: 'r1' });
    expect(historyOf(h, 'r1')).toMatchObject({ outcome: 'timedOut', decider: 'deadline' });
    expect(historyOf(h, 'r1').note).toContain('did not count');
    expect(h.ctx().queue.outbox).toEqual([]);
  });
});

describe('an outcome nothing on the socket will tell (CORE-2)', () => {
  it('CORE-2: a request that left the snapshot with no decision of ours in flight is asked for over HTTP, and the answer settles it', () => {
    const h = harness();
    connected(h, 2, [
      [1, 'r1'],
      [2, 'r2'],
    ]);
    h.actor.send({ type: 'queue.decide', requestId: 'r2', decision: 'deny', clientMsgId: 'm2' });
    h.last().drop();
    h.advance(h.ctx().retryDelayMs);
    h.last().serve({ ...(welcome(9, false) as Extract<ServerMessage, { type: 'welcome' }>), clientId: 'client-b' });
    h.last().serve(snapshot(9, []));
    // r2's re-sent decision will tell its outcome; only r1 needs the host.
    expect(h.emitted.filter((e) => e.type === 'request.unseen')).toEqual([{ type: 'request.unseen', requestId: 'r1' }]);
    const view = {
      id: 'r1',
      status: 'resolved',
      toolName: 'Bash',
      input: {},
      context: {},
      decision: 'allow',
      decidedBy: 'client-x',
      expiresAt: 2_000_000,
      createdAt: 1_000_001,
      seq: 1,
    } as const;
    h.actor.send({ type: 'queue.outcome', view });
    const r1 = h.ctx().queue.history.find((e) => e.requestId === 'r1')!;
    expect(r1).toMatchObject({ outcome: 'allowed', decider: 'another-window', decidedBy: 'client-x', note: 'Finished while this window was disconnected.' });
    // A late or repeated answer changes nothing once settled.
    h.actor.send({ type: 'queue.outcome', view: { ...view, decision: 'deny' } });
    expect(h.ctx().queue.history.find((e) => e.requestId === 'r1')!.outcome).toBe('allowed');
  });
});
