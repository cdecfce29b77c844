/**
 * The composition root of the browser's state: the connection machine bound to the real
 * WebSocket, provided once at the root (`ConnectionContext.Provider`); components read
 * it with narrow `useSelector`s. Also: the helpers that turn clicks into machine events.
 */
import { createActorContext } from '@xstate/react';
import type { ActorRefFrom, SnapshotFrom } from 'xstate';
import { connectionMachine } from '../../machines/connection.machine.ts';
import type { Decision, Remember } from '../../protocol/index.ts';
import { uuid } from './ids.ts';
import { browserSocket } from './socket.ts';

export const browserConnectionMachine = connectionMachine.provide({ actors: { socket: browserSocket } });
export const ConnectionContext = createActorContext(browserConnectionMachine);
export type ConnectionRef = ActorRefFrom<typeof browserConnectionMachine>;
export type ConnectionSnapshot = SnapshotFrom<typeof browserConnectionMachine>;

export type DecisionRequest = {
  requestId: string;
  decision: Decision;
  updatedInput?: Record<string, unknown>;
  message?: string;
  remember?: Remember;
  agentChoice?: string;
};

/** Each decision gets its own clientMsgId: the server's ack and error name it. */
export function sendDecision(actor: ConnectionRef, request: DecisionRequest): void {
  actor.send({ type: 'queue.decide', clientMsgId: uuid(), ...request });
}

export type LinkStatus = 'idle' | 'connecting' | 'syncing' | 'connected' | 'reconnecting' | 'offline';

export function linkStatus(snapshot: ConnectionSnapshot): LinkStatus {
  if (snapshot.matches('idle')) return 'idle';
  if (snapshot.matches('offline')) return 'offline';
  if (snapshot.matches('reconnecting')) return 'reconnecting';
  if (snapshot.matches({ link: { open: { sync: 'live' } } })) return 'connected';
  if (snapshot.matches({ link: 'open' })) return 'syncing';
  return 'connecting';
}
