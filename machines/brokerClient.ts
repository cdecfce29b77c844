/**
 * A small synchronous facade over a running broker actor, for the server and the tests:
 * each method sends one event with a fresh `ref` and returns the answer the broker
 * emitted for it during that `send`.
 *
 * Synchronous by design: the broker emits every answer before `actor.send()` returns
 * (broker.machine.ts). That holds when the call is made from outside the broker's own
 * processing. Called from inside a broker listener or the `persist` action, the event
 * is only queued (XState's mailbox), no answer exists yet, and the method throws.
 */
import type { BrokerActor } from './broker.machine.ts';
import type { AppendableEvent, BrokerEmitted, BrokerEvent, CancelAnswer, CreateAnswer, DecisionAnswer } from './broker.types.ts';

type Without<T, K extends string> = T extends unknown ? Omit<T, K> : never;
type EventOf<T extends BrokerEvent['type']> = Without<Extract<BrokerEvent, { type: T }>, 'type' | 'ref'>;

export type CreateArgs = EventOf<'request.create'>;
export type DecideArgs = EventOf<'permission.decide'>;
export type CancelArgs = EventOf<'request.cancel'>;

export type DecisionResult = { answer: DecisionAnswer; replayed: boolean };

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
  /** Stop listening (the actor itself is the caller's to stop). */
  close(): void;
};

export class NoAnswerError extends Error {
  override name = 'NoAnswerError';
}

export function createBrokerClient(actor: BrokerActor): BrokerClient {
  let counter = 0;
  /** Refs of calls in progress -> the answer once emitted. */
  const waiting = new Map<string, BrokerEmitted | null>();
  const capture = (emitted: BrokerEmitted) => {
    if ('ref' in emitted && waiting.has(emitted.ref)) waiting.set(emitted.ref, emitted);
  };
  const subscriptions = [actor.on('create.answer', capture), actor.on('decision.answer', capture), actor.on('cancel.answer', capture)];

  function ask<T extends 'create.answer' | 'decision.answer' | 'cancel.answer'>(
    event: BrokerEvent & { ref: string },
    answerType: T,
  ): Extract<BrokerEmitted, { type: T }> {
    waiting.set(event.ref, null);
    try {
      actor.send(event);
      const emitted = waiting.get(event.ref);
      if (!emitted || emitted.type !== answerType) {
        throw new NoAnswerError(
          `the broker emitted no ${answerType} for ${event.type} (ref ${event.ref}): ` +
            'it is stopped, or this call was made from inside a broker listener or persist',
        );
      }
      return emitted as Extract<BrokerEmitted, { type: T }>;
    } finally {
      waiting.delete(event.ref);
    }
  }

  const nextRef = () => `c${++counter}`;

  return {
    create: (args) => ask({ ...args, type: 'request.create', ref: nextRef() }, 'create.answer').answer,
    decide: (args) => {
      const emitted = ask({ ...args, type: 'permission.decide', ref: nextRef() }, 'decision.answer');
      return { answer: emitted.answer, replayed: emitted.replayed };
    },
    cancel: (args) => ask({ ...args, type: 'request.cancel', ref: nextRef() }, 'cancel.answer').answer,
    ack: (args) => actor.send({ ...args, type: 'client.ack' }),
    connect: (args) => actor.send({ ...args, type: 'client.connect' }),
    disconnect: (args) => actor.send({ ...args, type: 'client.disconnect' }),
    markSent: (args) => actor.send({ ...args, type: 'request.sent' }),
    append: (args) => {
      actor.send({ type: 'stream.append', at: args.at, event: args.event });
      return actor.getSnapshot().context.headSeq;
    },
    close: () => {
      for (const subscription of subscriptions) subscription.unsubscribe();
    },
  };
}
