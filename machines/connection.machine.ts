/**
 * The browser's connection to `/ws` (protocol-v1.md §3), as a pure XState machine.
 *
 * Owns: the socket's life (idle → link.connecting → link.open → reconnecting → offline),
 * backoff with full jitter and a circuit breaker, resume with `since` + `epoch`, seq
 * checking (gap → resume, duplicate → drop), coalesced acks, app-level ping/latency, and
 * the mirrored queue (`./queue.ts`) with this window's outbox of decisions.
 *
 * Effects are named and bound by the host: the `socket` actor (a callback actor that
 * turns a WebSocket into `SocketEvent`s, see connection.frames.ts), the delays, and the
 * clock and random source (input), so tests drive it with a fake socket and a
 * SimulatedClock. Chat traffic is not interpreted here: it is emitted for the host.
 */
import { assign, enqueueActions, fromCallback, setup } from 'xstate';
import type { ErrorMessage, PermissionRequestEvent, RequestView, SequencedEvent, SnapshotMessage } from '../protocol/index.ts';
import type { ChatStreamEvent, SocketCommand, SocketEvent, SocketInput } from './connection.frames.ts';
import { encodeClientFrame } from './connection.frames.ts';
import type { DecideCommand, QueueState, SnapshotAssembly } from './queue.ts';
import * as queue from './queue.ts';

export const BACKOFF = {
  baseMs: 250,
  /** While the tab is visible a person is waiting: never wait longer than this. */
  visibleCapMs: 5_000,
  hiddenCapMs: 30_000,
  /** After this long without a successful connection, stop retrying (state `offline`). */
  breakerMs: 60_000,
} as const;

export const TIMING = {
  pingIntervalMs: 15_000,
  pongTimeoutMs: 10_000,
  ackDelayMs: 100,
  connectTimeoutMs: 10_000,
} as const;

export type ServerNote = { code: string; message: string; at: number };

export type ConnectionInput = {
  /** The clock (ms). Time is an input: tests pass a SimulatedClock's `now`. */
  now: () => number;
  /** Uniform in [0, 1): the jitter source. */
  random: () => number;
  visible?: boolean;
  online?: boolean;
};

export type ConnectionContext = {
  now: () => number;
  random: () => number;
  epoch: string | null;
  /** The last sequenced event held (every one up to it is held, gapless). */
  lastSeq: number;
  /** The stream head announced by the last `welcome`/`snapshot`. */
  headSeq: number;
  /** After `resumed:false`, events are ignored until the snapshot arrives (all its parts). */
  needSnapshot: boolean;
  /** A snapshot whose parts are still arriving (`more: true`); void when the socket goes. */
  snapshotParts: SnapshotAssembly | null;
  /** The last seq we acknowledged to the server. */
  ackedSeq: number;
  attempt: number;
  retryDelayMs: number;
  /** When the next attempt starts, for "reconnecting in N s". */
  retryAt: number | null;
  /** Start of the current run of failures (null while healthy): feeds the breaker. */
  failingSince: number | null;
  visible: boolean;
  online: boolean;
  latencyMs: number | null;
  pingId: number;
  pingSentAt: number | null;
  clientId: string | null;
  lastClose: { code: number; reason: string } | null;
  queue: QueueState;
  /** Server errors that are not about one decision (rate-limited, internal, …), newest first. */
  errors: ServerNote[];
  stats: { dropped: number; gaps: number; connects: number; resumes: number; fresh: number };
};

export type ConnectionEvent =
  | SocketEvent
  | { type: 'connection.start' }
  | { type: 'connection.retry' }
  | { type: 'connection.visibility'; visible: boolean }
  | { type: 'connection.online' }
  | { type: 'connection.offline' }
  | ({ type: 'queue.decide' } & DecideCommand)
  /** The host fetched the outcome of a request that finished unseen (`request.unseen`). */
  | { type: 'queue.outcome'; view: RequestView }
  /** The outbox kept across a reload (queue.restoreOutbox), given before `connection.start`. */
  | { type: 'queue.restore'; entries: queue.OutboxEntry[] }
  | { type: 'errors.dismiss' }
  /** Internal: an event was held, an ack is due (coalesced). */
  | { type: 'event.held' };

export type ConnectionEmitted =
  | { type: 'chat.event'; event: ChatStreamEvent }
  /** `resumed:false`: what the host holds of the chat is void, reload it over HTTP. */
  | { type: 'chat.reload' }
  | { type: 'request.arrived'; request: PermissionRequestEvent }
  | { type: 'decision.refused'; requestId: string; reason: string }
  /** A request we held finished while we were disconnected and nothing of ours will tell
   *  how (no decision of ours in flight for it): the host may fetch it over HTTP. */
  | { type: 'request.unseen'; requestId: string };

const MAX_ERRORS = 5;

function note(context: ConnectionContext, code: string, message: string): ServerNote[] {
  return [{ code, message, at: context.now() }, ...context.errors].slice(0, MAX_ERRORS);
}

export const connectionMachine = setup({
  types: {
    context: {} as ConnectionContext,
    events: {} as ConnectionEvent,
    input: {} as ConnectionInput,
    emitted: {} as ConnectionEmitted,
  },
  actors: {
    // The host binds the real WebSocket; this default never connects (tests bind a fake).
    socket: fromCallback<SocketCommand, SocketInput>(() => () => {}),
  },
  delays: {
    retryDelay: ({ context }) => context.retryDelayMs,
    pingInterval: TIMING.pingIntervalMs,
    pongTimeout: TIMING.pongTimeoutMs,
    ackDelay: TIMING.ackDelayMs,
    connectTimeout: TIMING.connectTimeoutMs,
  },
  guards: {
    breakerOpen: ({ context }) => context.failingSince !== null && context.now() - context.failingSince >= BACKOFF.breakerMs,
    caughtUp: ({ context }) => !context.needSnapshot && context.lastSeq >= context.headSeq,
    welcomeResumes: ({ context, event }) => event.type === 'server.welcome' && event.message.resumed && context.epoch !== null,
    awaitingSnapshot: ({ context }) => context.needSnapshot,
    isStale: ({ context, event }) => event.type === 'server.event' && event.event.seq <= context.lastSeq,
    isGap: ({ context, event }) => event.type === 'server.event' && event.event.seq > context.lastSeq + 1,
    becameVisible: ({ event }) => event.type === 'connection.visibility' && event.visible,
    isSlowConsumerClose: ({ event }) => event.type === 'socket.closed' && event.code === 4000,
    isOurPong: ({ context, event }) => event.type === 'server.pong' && event.message.id === context.pingId,
    strayPart: ({ context, event }) => event.type === 'server.snapshot-part' && context.snapshotParts === null,
  },
  actions: {
    planRetry: assign(({ context }) => {
      const attempt = context.attempt + 1;
      const cap = context.visible ? BACKOFF.visibleCapMs : BACKOFF.hiddenCapMs;
      const ceiling = Math.min(cap, BACKOFF.baseMs * 2 ** Math.min(attempt - 1, 20));
      // Full jitter (AWS architecture blog): uniform in [0, ceiling) spreads a herd of tabs.
      const retryDelayMs = Math.floor(context.random() * ceiling);
      const now = context.now();
      return { attempt, retryDelayMs, retryAt: now + retryDelayMs, failingSince: context.failingSince ?? now };
    }),
    resetBackoff: assign({ attempt: 0, failingSince: null, retryAt: null }),
    clearRetryAt: assign({ retryAt: null }),
    countConnect: assign({ stats: ({ context }) => ({ ...context.stats, connects: context.stats.connects + 1 }) }),
    rememberClose: assign({
      lastClose: ({ event }) => (event.type === 'socket.closed' ? { code: event.code, reason: event.reason } : null),
    }),
    setVisibility: assign({ visible: ({ event, context }) => (event.type === 'connection.visibility' ? event.visible : context.visible) }),
    setOnline: assign({ online: ({ event }) => event.type === 'connection.online' }),
    acceptResume: assign(({ context, event }) => {
      if (event.type !== 'server.welcome') return {};
      return {
        headSeq: event.message.seq,
        clientId: event.message.clientId,
        queue: queue.setClientId(context.queue, event.message.clientId),
        attempt: 0,
        failingSince: null,
        retryAt: null,
        stats: { ...context.stats, resumes: context.stats.resumes + 1 },
      };
    }),
    acceptFresh: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'server.welcome') return;
      enqueue.assign({
        epoch: event.message.epoch,
        headSeq: event.message.seq,
        needSnapshot: true,
        ackedSeq: 0,
        clientId: event.message.clientId,
        queue: queue.setClientId(context.queue, event.message.clientId),
        attempt: 0,
        failingSince: null,
        retryAt: null,
        stats: { ...context.stats, fresh: context.stats.fresh + 1 },
      });
      enqueue.emit({ type: 'chat.reload' });
    }),
    applySnapshot: enqueueActions(({ context, event, enqueue }) => {
      let message: SnapshotMessage;
      if (event.type === 'server.snapshot') {
        if (event.message.more) {
          // The first part: hold it; nothing is applied until the last one.
          enqueue.assign({ snapshotParts: queue.startSnapshot(event.message) });
          return;
        }
        message = event.message;
      } else if (event.type === 'server.snapshot-part' && context.snapshotParts) {
        const assembly = queue.addSnapshotPart(context.snapshotParts, event.message);
        if (event.message.more) {
          enqueue.assign({ snapshotParts: assembly });
          return;
        }
        message = queue.assembledSnapshot(assembly);
      } else {
        return;
      }
      const known = new Set(context.queue.order);
      const listed = new Set(message.requests.map((r) => r.id));
      enqueue.assign({
        queue: queue.applySnapshot(context.queue, message, context.now()),
        lastSeq: message.seq,
        headSeq: Math.max(context.headSeq, message.seq),
        needSnapshot: false,
        snapshotParts: null,
      });
      for (const request of message.requests) {
        if (!known.has(request.id)) enqueue.emit({ type: 'request.arrived', request });
      }
      for (const id of known) {
        const ours = context.queue.outbox.find((e) => e.requestId === id && e.sent);
        // A sent decision of ours is re-sent once live, and its answer tells the outcome.
        if (!listed.has(id) && !ours) enqueue.emit({ type: 'request.unseen', requestId: id });
      }
      enqueue.raise({ type: 'event.held' });
    }),
    resetSnapshotParts: assign({ snapshotParts: null }),
    restoreOutbox: assign({
      queue: ({ context, event }) => (event.type === 'queue.restore' ? queue.restoreOutbox(context.queue, event.entries) : context.queue),
    }),
    applyFetchedOutcome: assign({
      queue: ({ context, event }) => (event.type === 'queue.outcome' ? queue.applyFetchedOutcome(context.queue, event.view) : context.queue),
    }),
    noteStrayPart: assign({ errors: ({ context }) => note(context, 'invalid-server-frame', 'a snapshot-part without a snapshot: starting afresh') }),
    holdEvent: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'server.event') return;
      const held: SequencedEvent = event.event;
      const isNew = held.type === 'permission-request' && !context.queue.cards[held.id];
      enqueue.assign({ lastSeq: held.seq, queue: queue.applyEvent(context.queue, held) });
      if (held.type === 'chat-message' || held.type === 'session-updated') enqueue.emit({ type: 'chat.event', event: held });
      if (isNew && held.type === 'permission-request') enqueue.emit({ type: 'request.arrived', request: held });
      enqueue.raise({ type: 'event.held' });
    }),
    countDropped: assign({ stats: ({ context }) => ({ ...context.stats, dropped: context.stats.dropped + 1 }) }),
    countGap: assign({ stats: ({ context }) => ({ ...context.stats, gaps: context.stats.gaps + 1 }) }),
    sendAck: enqueueActions(({ context, enqueue }) => {
      if (context.lastSeq <= context.ackedSeq) return;
      enqueue.sendTo('socket', encodeClientFrame({ type: 'ack', seq: context.lastSeq }));
      enqueue.assign({ ackedSeq: context.lastSeq });
    }),
    sendPing: enqueueActions(({ context, enqueue }) => {
      const pingId = context.pingId + 1;
      enqueue.assign({ pingId, pingSentAt: context.now() });
      enqueue.sendTo('socket', encodeClientFrame({ type: 'ping', id: pingId }));
    }),
    recordLatency: assign({
      latencyMs: ({ context }) => (context.pingSentAt === null ? context.latencyMs : context.now() - context.pingSentAt),
      pingSentAt: null,
    }),
    setCounts: assign({
      queue: ({ context, event }) =>
        event.type === 'server.queue-status'
          ? queue.setCounts(context.queue, { pending: event.message.pending, processing: event.message.processing })
          : context.queue,
    }),
    applyAck: assign({
      queue: ({ context, event }) => (event.type === 'server.ack' ? queue.applyAck(context.queue, event.message) : context.queue),
    }),
    applyError: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'server.error') return;
      const message: ErrorMessage = event.message;
      const rolledBack = queue.applyDecisionError(context.queue, message);
      if (rolledBack) {
        enqueue.assign({ queue: rolledBack });
        if (message.requestId) enqueue.emit({ type: 'decision.refused', requestId: message.requestId, reason: message.code });
        return;
      }
      enqueue.assign({ errors: note(context, message.code, message.message) });
    }),
    noteInvalidFrame: assign({
      errors: ({ context, event }) => (event.type === 'server.invalid' ? note(context, 'invalid-server-frame', event.error) : context.errors),
    }),
    dismissErrors: assign({ errors: [] }),
    decideOffline: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'queue.decide') return;
      const result = queue.decide(context.queue, event, false);
      if (result.ok) enqueue.assign({ queue: result.state });
      else enqueue.emit({ type: 'decision.refused', requestId: event.requestId, reason: result.reason });
    }),
    decideAndSend: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'queue.decide') return;
      const result = queue.decide(context.queue, event, true);
      if (!result.ok) {
        enqueue.emit({ type: 'decision.refused', requestId: event.requestId, reason: result.reason });
        return;
      }
      enqueue.assign({ queue: result.state });
      const entry = result.state.outbox[result.state.outbox.length - 1]; // the decision just queued
      if (entry) enqueue.sendTo('socket', encodeClientFrame(entry.frame));
    }),
    flushOutbox: enqueueActions(({ context, enqueue }) => {
      const { state, frames } = queue.flushOutbox(context.queue);
      enqueue.assign({ queue: state });
      for (const frame of frames) enqueue.sendTo('socket', encodeClientFrame(frame));
    }),
    noteConnectTimeout: assign({ errors: ({ context }) => note(context, 'connect-timeout', 'no welcome from the server') }),
  },
}).createMachine({
  id: 'connection',
  context: ({ input }) => ({
    now: input.now,
    random: input.random,
    epoch: null,
    lastSeq: 0,
    headSeq: 0,
    needSnapshot: false,
    snapshotParts: null,
    ackedSeq: 0,
    attempt: 0,
    retryDelayMs: 0,
    retryAt: null,
    failingSince: null,
    visible: input.visible ?? true,
    online: input.online ?? true,
    latencyMs: null,
    pingId: 0,
    pingSentAt: null,
    clientId: null,
    lastClose: null,
    queue: queue.emptyQueue(),
    errors: [],
    stats: { dropped: 0, gaps: 0, connects: 0, resumes: 0, fresh: 0 },
  }),
  initial: 'idle',
  on: {
    'connection.visibility': { actions: 'setVisibility' },
    'connection.online': { actions: 'setOnline' },
    'connection.offline': { actions: 'setOnline' },
    'queue.decide': { actions: 'decideOffline' },
    'queue.outcome': { actions: 'applyFetchedOutcome' },
    'queue.restore': { actions: 'restoreOutbox' },
    'server.queue-status': { actions: 'setCounts' },
    'server.ack': { actions: 'applyAck' },
    'server.error': { actions: 'applyError' },
    'server.invalid': { actions: 'noteInvalidFrame' },
    'errors.dismiss': { actions: 'dismissErrors' },
  },
  states: {
    idle: {
      on: { 'connection.start': 'link' },
    },
    link: {
      entry: ['clearRetryAt', 'countConnect', 'resetSnapshotParts'],
      invoke: {
        id: 'socket',
        src: 'socket',
        // Still owing a whole snapshot (a drop mid-snapshot): what we hold is void, start afresh.
        input: ({ context }): SocketInput => (context.epoch === null || context.needSnapshot ? {} : { since: context.lastSeq, epoch: context.epoch }),
      },
      on: {
        'socket.closed': [
          // Dropped on purpose as a slow consumer: resume at once, it is not a failure.
          { guard: 'isSlowConsumerClose', target: 'link', reenter: true, actions: 'rememberClose' },
          { target: 'reconnecting', actions: 'rememberClose' },
        ],
      },
      initial: 'connecting',
      states: {
        connecting: {
          on: {
            'server.welcome': [
              { guard: 'welcomeResumes', target: 'open', actions: 'acceptResume' },
              { target: 'open', actions: 'acceptFresh' },
            ],
          },
          after: { connectTimeout: { target: '#connection.reconnecting', actions: 'noteConnectTimeout' } },
        },
        open: {
          type: 'parallel',
          on: {
            'server.snapshot': { actions: 'applySnapshot' },
            'server.snapshot-part': [{ guard: 'strayPart', target: '#connection.link', reenter: true, actions: 'noteStrayPart' }, { actions: 'applySnapshot' }],
            'server.event': [
              { guard: 'awaitingSnapshot' },
              { guard: 'isStale', actions: 'countDropped' },
              // A skipped seq means we missed something: close and resume from what we hold.
              { guard: 'isGap', target: '#connection.link', reenter: true, actions: 'countGap' },
              { actions: 'holdEvent' },
            ],
          },
          states: {
            sync: {
              initial: 'catchingUp',
              states: {
                catchingUp: {
                  always: { guard: 'caughtUp', target: 'live' },
                },
                live: {
                  // Decisions made while away go out now, unless their request finished.
                  entry: 'flushOutbox',
                  on: { 'queue.decide': { actions: 'decideAndSend' } },
                },
              },
            },
            health: {
              // The first ping goes at once, so latency is known as soon as we are open.
              initial: 'probing',
              states: {
                waiting: {
                  after: { pingInterval: 'probing' },
                },
                probing: {
                  entry: 'sendPing',
                  on: { 'server.pong': { guard: 'isOurPong', target: 'waiting', actions: 'recordLatency' } },
                  after: { pongTimeout: '#connection.reconnecting' },
                },
              },
            },
            acks: {
              initial: 'idle',
              states: {
                idle: { on: { 'event.held': 'scheduled' } },
                // Coalesced: one ack for every event held during the delay.
                scheduled: { after: { ackDelay: { target: 'idle', actions: 'sendAck' } } },
              },
            },
          },
        },
      },
    },
    reconnecting: {
      entry: 'planRetry',
      always: { guard: 'breakerOpen', target: 'offline' },
      after: { retryDelay: 'link' },
      on: {
        'connection.retry': { target: 'link' },
        'connection.online': { target: 'link', actions: ['setOnline', 'resetBackoff'] },
        'connection.offline': { target: 'offline', actions: 'setOnline' },
        'connection.visibility': { guard: 'becameVisible', target: 'link', actions: 'setVisibility' },
      },
    },
    offline: {
      entry: 'clearRetryAt',
      on: {
        'connection.retry': { target: 'link', actions: 'resetBackoff' },
        'connection.online': { target: 'link', actions: ['setOnline', 'resetBackoff'] },
        'connection.visibility': { guard: 'becameVisible', target: 'link', actions: ['setVisibility', 'resetBackoff'] },
      },
    },
  },
});

export type ConnectionMachine = typeof connectionMachine;
