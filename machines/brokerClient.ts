/**
 * A small synchronous facade over a running broker actor, for tests and benchmarks: each
 * method sends one command with a `reply` and returns the answer the broker gave it
 * during that `send` (broker.types.ts).
 *
 * Synchronous by design: sent from outside the broker's own processing, a command is
 * answered before `actor.send()` returns. Called from inside a broker listener or the
 * `persist` action, the command is only queued (XState's mailbox), no answer exists
 * yet, and the method throws. The server's host does not use this facade: it awaits the
 * replies (server/brokerHost.ts), which is right in both cases.
 */
import type { ActorOptions } from 'xstate';
import type { BrokerActor } from './broker.machine.ts';
import { nextDeadlineOf } from './selectors.ts';
import type { AppendableEvent, BrokerEvent, CancelAnswer, CreateAnswer, DecisionResult, Reply } from './broker.types.ts';

type Without<T, K extends string> = T extends unknown ? Omit<T, K> : never;
type EventOf<T extends BrokerEvent['type']> = Without<Extract<BrokerEvent, { type: T }>, 'type' | 'reply'>;

export type CreateArgs = EventOf<'request.create'>;
export type DecideArgs = EventOf<'permission.decide'>;
export type CancelArgs = EventOf<'request.cancel'>;

export type BrokerClient = {
  create(args: CreateArgs): CreateAnswer;
  /** The answer, and whether it is a remembered one (a repeated `clientMsgId`). */
  decide(args: DecideArgs): DecisionResult;
  cancel(args: CancelArgs): CancelAnswer;
  ack(args: EventOf<'client.ack'>): void;
  connect(args: EventOf<'client.connect'>): void;
  disconnect(args: EventOf<'client.disconnect'>): void;
  markSent(args: EventOf<'request.sent'>): void;
  /** Appends a chat event; returns the seq it was given. */
  append(args: { at: number; event: AppendableEvent }): number;
  /** Nothing to release any more (kept so callers need not change). */
  close(): void;
};

export class NoAnswerError extends Error {
  override name = 'NoAnswerError';
}

export function createBrokerClient(actor: BrokerActor): BrokerClient {
  /** Send a command built around `reply`; the answer it got during the send. */
  function ask<A>(type: string, send: (reply: Reply<A>) => void): A {
    let answered: { answer: A } | undefined;
    send((answer) => {
      answered = { answer };
    });
    if (answered === undefined) {
      throw new NoAnswerError(`the broker gave no answer to ${type}: it is stopped, or this call was made from inside a broker listener or persist`);
    }
    return answered.answer;
  }

  return {
    create: (args) => ask<CreateAnswer>('request.create', (reply) => actor.send({ ...args, type: 'request.create', reply })),
    decide: (args) => ask<DecisionResult>('permission.decide', (reply) => actor.send({ ...args, type: 'permission.decide', reply })),
    cancel: (args) => ask<CancelAnswer>('request.cancel', (reply) => actor.send({ ...args, type: 'request.cancel', reply })),
    ack: (args) => actor.send({ ...args, type: 'client.ack' }),
    connect: (args) => actor.send({ ...args, type: 'client.connect' }),
    disconnect: (args) => actor.send({ ...args, type: 'client.disconnect' }),
    markSent: (args) => actor.send({ ...args, type: 'request.sent' }),
    append: (args) => ask<{ seq: number }>('stream.append', (reply) => actor.send({ type: 'stream.append', at: args.at, event: args.event, reply })).seq,
    close: () => {},
  };
}

type Timers = NonNullable<ActorOptions<never>['clock']>;

/** setTimeout fires after 1 ms for anything longer (toolchain.md). */
export const MAX_TIMER_DELAY_MS = 2_147_483_647;

/**
 * Runs the deadlines of a broker (broker.machine.ts, "One timer for every deadline"): one
 * timer on `timers` (the host's clock, a SimulatedClock in tests) for the instant the
 * broker's earliest deadline names (`nextDeadlineOf`); when it fires, `broker.deadline` with the clock's reading
 * then, and the next one. Moved when an earlier deadline comes; when the earliest request
 * finishes first, the timer armed for it is kept (it fires early, finds nothing due and
 * is armed again), so deciding requests in order costs no timer per decision. Stops with
 * the actor; returns a stop function.
 */
export function driveDeadlines(actor: BrokerActor, timers: Timers, now: () => number): () => void {
  let timer: unknown;
  let armedFor: number | null = null;
  let stopped = false;
  const clear = () => {
    if (timer !== undefined) timers.clearTimeout(timer);
    timer = undefined;
    armedFor = null;
  };
  const arm = () => {
    if (stopped || actor.getSnapshot().status !== 'active') return;
    const next = nextDeadlineOf(actor.getSnapshot());
    if (next !== null && timer !== undefined && armedFor !== null && armedFor <= next) return;
    clear();
    if (next === null) return;
    armedFor = next;
    timer = timers.setTimeout(
      () => {
        timer = undefined;
        armedFor = null;
        if (stopped || actor.getSnapshot().status !== 'active') return;
        actor.send({ type: 'broker.deadline', at: now() });
        arm();
      },
      Math.min(Math.max(0, next - now()), MAX_TIMER_DELAY_MS),
    );
  };
  const stop = () => {
    stopped = true;
    clear();
  };
  // Looked at after every step, O(1).
  actor.subscribe({ next: () => arm(), complete: stop, error: stop });
  arm();
  return stop;
}
