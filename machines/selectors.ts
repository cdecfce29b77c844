/**
 * Pure reads of the broker's state for the host: queue status, the WebSocket snapshot's
 * requests, one request's status. Each takes a snapshot (or its context) and reads it at
 * once (the broker mutates its Maps in place; see broker.machine.ts).
 */
import type { DeliveryState, PermissionRequestEvent } from '../protocol/index.ts';
import type { BrokerContext, UnresolvedRequest } from './broker.machine.ts';
import type { FinishedRequest } from './broker.types.ts';

type ContextSource = BrokerContext | { context: BrokerContext };

function contextOf(source: ContextSource): BrokerContext {
  return 'unresolved' in source ? source : source.context;
}

/** `pending`: unresolved requests; `processing`: those of them with a seq at or below the
 *  highest seq a connected client acknowledged. O(1). */
export function queueStatusOf(source: ContextSource): { pending: number; processing: number } {
  const context = contextOf(source);
  return { pending: context.unresolved.size, processing: context.order.processing };
}

/** When the broker next times a request out (null: none): the earliest entry of its
 *  deadline heap, a request's `expiresAt` or, for another instance's, a grace later
 *  (broker.machine.ts, `timeoutDueAt`). Whoever runs the broker sends `broker.deadline`
 *  then (brokerClient.ts, `driveDeadlines`). O(1). */
export function nextDeadlineOf(source: ContextSource): number | null {
  return contextOf(source).deadlines.peek()?.at ?? null;
}

/** One `permission-request` event (with its original seq) per unresolved request, oldest
 *  first: the `requests` of a WebSocket snapshot. */
export function unresolvedRequestEventsOf(source: ContextSource): PermissionRequestEvent[] {
  const events: PermissionRequestEvent[] = [];
  for (const request of contextOf(source).unresolved.values()) events.push(request.event);
  return events;
}

/** The delivery state of one unresolved request; `undefined` when it is not unresolved. */
export function deliveryOf(source: ContextSource, id: string): DeliveryState | undefined {
  const context = contextOf(source);
  const request = context.unresolved.get(id);
  return request ? deliveryStateOf(context, request) : undefined;
}

/** The stream's epoch and head. */
export function streamHeadOf(source: ContextSource): { epoch: string; headSeq: number } {
  const context = contextOf(source);
  return { epoch: context.epoch, headSeq: context.headSeq };
}

/** The child's delivery state: where an unresolved request is on its way to a client. */
export type { DeliveryState };

export type RequestLookup =
  | { status: 'pending'; delivery: DeliveryState; request: UnresolvedRequest }
  | { status: 'resolved' | 'timedOut' | 'cancelled'; finished: FinishedRequest };

/** What the broker knows of a request: unresolved (with its delivery state) or recently
 *  finished (with its outcome); `undefined` for an id it never saw or has forgotten. */
export function lookupRequest(source: ContextSource, id: string): RequestLookup | undefined {
  const context = contextOf(source);
  const request = context.unresolved.get(id);
  if (request) return { status: 'pending', delivery: deliveryStateOf(context, request), request };
  const finished = context.recent.get(id);
  if (finished) return { status: finished.outcome.status, finished };
  return undefined;
}

/** The request actor's state; a restored request without an actor yet (broker.machine.ts,
 *  "Why restore is cheap") reads the index's watermarks, which its actor is told at birth. */
function deliveryStateOf(context: BrokerContext, request: UnresolvedRequest): DeliveryState {
  if (!request.ref) return context.order.deliveryOf(request);
  const snapshot = request.ref.getSnapshot();
  if (snapshot.matches({ unresolved: 'acked' })) return 'acked';
  if (snapshot.matches({ unresolved: 'sent' })) return 'sent';
  return 'pending';
}

/** Connected clients and the highest seq each acknowledged. */
export function connectedClientsOf(source: ContextSource): Array<{ clientId: string; label: string; ackedSeq: number }> {
  const clients: Array<{ clientId: string; label: string; ackedSeq: number }> = [];
  for (const [clientId, client] of contextOf(source).clients) clients.push({ clientId, label: client.label, ackedSeq: client.ackedSeq });
  return clients;
}

/** Whether a connected client holds this unresolved request: its seq is at or below the
 *  highest seq a connected client acknowledged (what `processing` counts, BRK-10).
 *  `undefined` when the request is not unresolved (finished, forgotten or unknown). */
export function isHeldByConnectedClient(source: ContextSource, id: string): boolean | undefined {
  const context = contextOf(source);
  const request = context.unresolved.get(id);
  if (!request) return undefined;
  return request.seq <= context.order.holdSeq;
}
