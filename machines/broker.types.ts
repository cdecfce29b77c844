/**
 * The broker's interface: what the host (server, tests, benchmarks) sends it, what it
 * hands to the host's persistence effect, and what it emits for the host to relay.
 *
 * Every host-to-broker event carries `at`, the host's clock reading (ms since the epoch,
 * or a SimulatedClock's time in tests): time is an input, the machines never read a clock.
 * A command that has an answer (create, decide, cancel, append) carries `reply`, which
 * the broker calls exactly once with the answer, as the last action of the step that
 * decided it (so every record of that step has been handed to `persist` first). Sent
 * from outside the broker's own processing, `reply` runs before `actor.send()` returns;
 * sent from inside (a listener), it runs when the broker reaches the event in its mailbox.
 * Answers are never emitted: nothing is fished out of an event stream by reference
 * (architecture.md, example 14).
 */
import type { ActorOptions } from 'xstate';
import type { ChatMessageEvent, Decision, DecisionRejectionCode, PermissionRequestEvent, SequencedEvent, SessionUpdatedEvent } from '../protocol/index.ts';

/** `agent`: the asking agent lives inside the server process (SDK session, demo agent),
 *  so a restart orphans the request (it is then cancelled with reason `server-restart`).
 *  `http`: the agent is outside (hook, MCP tool, script) and polls, so it survives. */
export type RequestOrigin = 'http' | 'agent';

export type RequestData = {
  id: string;
  toolName: string;
  input: Record<string, unknown>;
  context: PermissionRequestEvent['context'];
  /** Creation time. */
  timestamp: number;
  /** Absolute deadline. */
  expiresAt: number;
};

/** An unresolved request as the store keeps it, enough to restore its actor. */
export type StoredRequest = RequestData & {
  /** The seq of its `permission-request` event. */
  seq: number;
  origin: RequestOrigin;
  idempotencyKey?: string;
  bodyHash?: string;
  /** The instance that made it, where the store keeps it (several instances on one log). */
  instance?: string;
};

export type OutcomeStatus = 'resolved' | 'timedOut' | 'cancelled';

/** How a request ended. A timeout and a cancel are denies, with a message saying why. */
export type Outcome = {
  status: OutcomeStatus;
  decision: Decision;
  updatedInput?: Record<string, unknown>;
  message?: string;
  /** A client's label, `http`, `rule:<id>`, `timeout`, or `agent`/`server-restart` for a cancel. */
  decidedBy: string;
  decidedAt: number;
  /** For a cancel: why the agent gave up. */
  reason?: string;
};

/** A finished request the broker still remembers, for late and duplicate answers. */
export type FinishedRequest = {
  id: string;
  toolName: string;
  seq: number;
  outcome: Outcome;
  idempotencyKey?: string;
  bodyHash?: string;
  /** The request's deadline (absent in records made before this field existed). Lets a
   *  create with a known idempotency key answer `existing` with its `expiresAt`. */
  expiresAt?: number;
};

export type DecisionAnswer =
  | { status: 'accepted'; requestId: string }
  | { status: 'rejected'; requestId: string; code: DecisionRejectionCode; message: string; decision?: Decision };

/** The remembered answer to a `permission-response` that carried a `clientMsgId`. */
export type ClientAnswerRecord = { clientMsgId: string; requestId: string; answer: DecisionAnswer };

/** How the broker creates its request actors (each in a system of its own, see
 *  broker.machine.ts): the host passes the clock and the inspector it gives the broker, so
 *  the children run on the same clock and show up in the same inspector. */
export type RequestActorOptions = {
  clock?: NonNullable<ActorOptions<never>['clock']>;
  inspect?: NonNullable<ActorOptions<never>['inspect']>;
};

/** Where the broker starts: a new, empty stream, or what the store kept. */
export type BrokerInput = {
  epoch: string;
  /** The seq of the last event in the stream (0 when empty). */
  headSeq: number;
  /** The host's clock at start: restored deadlines are measured from it. */
  now: number;
  /** Unresolved requests, oldest first. */
  unresolved: StoredRequest[];
  /** Recently finished requests, oldest first (at most `recentLimit` are kept). */
  finished: FinishedRequest[];
  clientAnswers: ClientAnswerRecord[];
  /** How many finished requests (and their idempotency keys and clientMsgId answers)
   *  are remembered in memory. Default 10,000. */
  recentLimit?: number;
  /** Clock and inspector for the request actors (default: real timers, no inspector). */
  requestActors?: RequestActorOptions;
  /** One of several instances on one log (docs/cluster.md, "Who times a request out"). */
  cluster?: ClusterRole;
};

/** This instance among others on one log: a request another instance made is timed out
 *  here only `othersGraceMs` after its deadline (its maker times it out first, unless it
 *  is gone), so that every deadline is not a seq race on every instance. The outcome is
 *  the same either way: a timeout stamped at the deadline itself. */
export type ClusterRole = { self: string | undefined; othersGraceMs: number };

export type CreateRequestSpec = {
  id: string;
  toolName: string;
  input: Record<string, unknown>;
  context: PermissionRequestEvent['context'];
  timeoutMs: number;
};

/** Appended to the stream by the host (chat traffic); the broker gives it its seq. */
export type AppendableEvent = Omit<ChatMessageEvent, 'seq'> | Omit<SessionUpdatedEvent, 'seq'>;

/** Called once with a command's answer (see the header). */
export type Reply<T> = (answer: T) => void;

/** A decision's answer, and whether it is a remembered one (a repeated `clientMsgId`). */
export type DecisionResult = { answer: DecisionAnswer; replayed: boolean };

export type BrokerEvent =
  | {
      type: 'request.create';
      at: number;
      reply?: Reply<CreateAnswer>;
      request: CreateRequestSpec;
      origin: RequestOrigin;
      idempotencyKey?: string;
      /** A hash of the create body: the same key with another body is a conflict. */
      bodyHash?: string;
    }
  /** The host wrote every event up to `upToSeq` to at least one socket. */
  | { type: 'request.sent'; at: number; upToSeq: number }
  | { type: 'request.cancel'; at: number; reply?: Reply<CancelAnswer>; requestId: string; reason: string; cancelledBy: string }
  | {
      type: 'permission.decide';
      at: number;
      reply?: Reply<DecisionResult>;
      requestId: string;
      decision: Decision;
      updatedInput?: Record<string, unknown>;
      message?: string;
      decidedBy: string;
      clientMsgId?: string;
    }
  | { type: 'client.connect'; at: number; clientId: string; label: string }
  | { type: 'client.disconnect'; at: number; clientId: string }
  /** The client holds every event up to `seq`. */
  | { type: 'client.ack'; at: number; clientId: string; seq: number }
  | { type: 'stream.append'; at: number; event: AppendableEvent; reply?: Reply<SequencedEvent> }
  /** The broker's earliest deadline came (`nextDeadlineOf`, selectors.ts): `at` is the
   *  runner's clock reading then; every request due by `at` times out (broker.machine.ts). */
  | { type: 'broker.deadline'; at: number }
  /** Events another instance committed (docs/cluster.md, "The broker as a projection of
   *  the log"), in seq order from `headSeq + 1`: folded in without being persisted again,
   *  then emitted as `stream.event` for the host to relay. */
  | ({ type: 'log.applied'; at: number } & LogApplied)
  /** Shutdown begins: refuse new creates, keep deciding the unresolved ones. */
  | { type: 'broker.drain'; at: number }
  /** Shutdown ends: the broker reaches its final state and stops its request actors. */
  | { type: 'broker.stop'; at: number };

/** What a request row adds to an event of the log: a `permission-request`'s origin,
 *  idempotency key and body hash; an outcome's whole Outcome (the winner's `decidedBy`,
 *  message, reason) as the deciding instance stored it. */
export type LogRequestRow = { origin: RequestOrigin; idempotencyKey?: string; bodyHash?: string; outcome?: Outcome };

/** Committed events of other instances, with their request rows (by request id) and the
 *  `clientMsgId` answers they remembered. */
export type LogApplied = {
  events: readonly SequencedEvent[];
  rows?: ReadonlyMap<string, LogRequestRow>;
  clientAnswers?: readonly ClientAnswerRecord[];
};

/** Handed to the host's `persist` effect, in order, before anything is emitted for it. */
export type PersistRecord =
  | {
      kind: 'event';
      event: SequencedEvent;
      /** With a `permission-request` event: what the store needs to restore it. */
      request?: { origin: RequestOrigin; idempotencyKey?: string; bodyHash?: string };
      /** With an outcome event (`permission-resolved`, `-timeout`, `-cancelled`): the
       *  request's whole Outcome, so the store keeps it as the broker decided it
       *  (message, decidedBy, reason) instead of rebuilding it from the event. */
      outcome?: Outcome;
    }
  | { kind: 'client-answer'; record: ClientAnswerRecord };

export type CreateAnswer =
  | { status: 'created'; id: string; seq: number; expiresAt: number }
  /** The idempotency key was seen with the same body: the existing request. */
  | { status: 'existing'; id: string; seq: number; expiresAt: number }
  /** The idempotency key was seen with another body. */
  | { status: 'conflict'; id: string }
  /** The broker is draining (shutdown): nothing was created. */
  | { status: 'refused'; reason: 'draining'; message: string };

export type CancelAnswer =
  | { status: 'cancelled'; requestId: string }
  | { status: 'rejected'; requestId: string; code: DecisionRejectionCode; message: string; decision?: Decision };

export type BrokerEmitted =
  /** A sequenced event, already persisted: relay it. */
  | { type: 'stream.event'; event: SequencedEvent }
  /** The queue status may have changed: coalesce, then read `queueStatusOf(snapshot)`. */
  | { type: 'queue.changed' };
