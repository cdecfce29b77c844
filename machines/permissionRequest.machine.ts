/**
 * One permission request as an actor (architecture.md: "one child per request").
 *
 * Owns the request's lifecycle and its single outcome:
 *   unresolved.pending -> unresolved.sent -> unresolved.acked   (delivery hints)
 *   unresolved -> resolved | timedOut | cancelled              (final, exactly one)
 *
 * Time is an input. The actor arms no timer of its own: its parent keeps every request's
 * deadline in one heap and tells it `request.deadline` when the clock reaches
 * `expiresAt` (for a request another instance made, a grace later: `timeoutDueAt`,
 * broker.machine.ts, and "One timer for every deadline" there); a deadline event
 * before `expiresAt` changes nothing. An event's `at` is the host's clock reading; a
 * decision or cancel whose `at` is at or after `expiresAt` cannot win: the request times
 * out instead (nothing is decided after its deadline, whether or not the deadline event
 * has come yet). The timeout's outcome is stamped `expiresAt` itself, so a request
 * restored after a restart times out at the same absolute instant.
 *
 * On reaching a final state the actor reports `request.finished` (named action
 * `notifyParent`, a `sendParent` by default; the broker binds it to itself, see
 * broker.machine.ts) and its `output` is the Outcome.
 */
import { assign, sendParent, setup } from 'xstate';
import { cancelledMessage, type Decision, decidedByWire, timedOutMessage, waitedSeconds } from '../protocol/index.ts';
import type { Outcome, RequestData } from './broker.types.ts';

export type PermissionRequestInput = RequestData;

export type PermissionRequestContext = {
  request: PermissionRequestInput;
  outcome: Outcome | null;
};

/** Every event carries the host's clock reading `at`. */
export type PermissionRequestActorEvent =
  | { type: 'request.sent'; at: number }
  | { type: 'request.acked'; at: number }
  /** The parent's clock reached (or passed) the deadline it keeps for this request. */
  | { type: 'request.deadline'; at: number }
  | {
      type: 'permission.decide';
      at: number;
      decision: Decision;
      updatedInput?: Record<string, unknown>;
      message?: string;
      decidedBy: string;
    }
  | { type: 'request.cancel'; at: number; reason: string; cancelledBy: string };

/** What a finished request tells its parent. */
export type RequestFinishedEvent = { type: 'request.finished'; id: string; outcome: Outcome };

/** The timeout's deny message (protocol/outcome.ts); the store uses the same words when it rebuilds an outcome. */
export function timeoutMessage(createdAt: number, expiresAt: number): string {
  return timedOutMessage(waitedSeconds(createdAt, expiresAt));
}

/** A timeout is a deny decided by `timeout` at the deadline itself (pure: no clock read). */
export function timeoutOutcome(request: RequestData): Outcome {
  return {
    status: 'timedOut',
    decision: 'deny',
    message: timeoutMessage(request.timestamp, request.expiresAt),
    decidedBy: decidedByWire.timeout,
    decidedAt: request.expiresAt,
  };
}

export const permissionRequestMachine = setup({
  types: {
    input: {} as PermissionRequestInput,
    context: {} as PermissionRequestContext,
    events: {} as PermissionRequestActorEvent,
    output: {} as Outcome,
  },
  guards: {
    // Not `at >= expiresAt`: a deadline that is not a number has passed (never waits forever).
    deadlineReached: ({ context, event }) => !(event.at < context.request.expiresAt),
    beforeDeadline: ({ context, event }) => event.at < context.request.expiresAt,
  },
  actions: {
    recordDecision: assign(({ event }) => {
      if (event.type !== 'permission.decide') return {};
      const outcome: Outcome = { status: 'resolved', decision: event.decision, decidedBy: event.decidedBy, decidedAt: event.at };
      if (event.updatedInput !== undefined) outcome.updatedInput = event.updatedInput;
      if (event.message !== undefined) outcome.message = event.message;
      return { outcome };
    }),
    recordCancel: assign(({ event }) => {
      if (event.type !== 'request.cancel') return {};
      const outcome: Outcome = {
        status: 'cancelled',
        decision: 'deny',
        message: cancelledMessage(event.reason),
        decidedBy: event.cancelledBy,
        decidedAt: event.at,
        reason: event.reason,
      };
      return { outcome };
    }),
    recordTimeout: assign(({ context }) => ({ outcome: timeoutOutcome(context.request) })),
    notifyParent: sendParent(
      ({ context }): RequestFinishedEvent => ({
        type: 'request.finished',
        id: context.request.id,
        outcome: context.outcome ?? timeoutOutcome(context.request),
      }),
    ),
  },
}).createMachine({
  id: 'permissionRequest',
  context: ({ input }) => ({ request: input, outcome: null }),
  initial: 'unresolved',
  states: {
    unresolved: {
      initial: 'pending',
      on: {
        'request.deadline': { guard: 'deadlineReached', target: 'timedOut' },
        'permission.decide': [
          { guard: 'beforeDeadline', target: 'resolved', actions: 'recordDecision' },
          // Late: the deadline has passed even if its timer has not fired yet.
          { target: 'timedOut' },
        ],
        'request.cancel': [{ guard: 'beforeDeadline', target: 'cancelled', actions: 'recordCancel' }, { target: 'timedOut' }],
      },
      states: {
        /** Created; on no socket yet. */
        pending: { on: { 'request.sent': 'sent', 'request.acked': 'acked' } },
        /** Written to at least one socket. */
        sent: { on: { 'request.acked': 'acked' } },
        /** At least one client confirmed it holds it. */
        acked: {},
      },
    },
    resolved: { type: 'final', entry: 'notifyParent', output: ({ context }) => context.outcome! },
    timedOut: { type: 'final', entry: ['recordTimeout', 'notifyParent'], output: ({ context }) => context.outcome! },
    cancelled: { type: 'final', entry: 'notifyParent', output: ({ context }) => context.outcome! },
  },
  output: ({ context }) => context.outcome!,
});
