// TEMPORARY stand-in for machines/broker.machine.ts + brokerClient.ts until they land. Delete after.
import { enqueueActions, setup } from 'xstate';
import type { BrokerEvent, BrokerInput, DecisionAnswer, FinishedRequest, PersistRecord, StoredRequest } from '../../machines/broker.types.ts';
import type { PermissionRequestEvent, SequencedEvent } from '../../protocol/index.ts';

type Live = StoredRequest & { state: 'pending' | 'sent' | 'acked' };
type Ctx = {
  epoch: string;
  head: number;
  live: Map<string, Live>;
  finished: Map<string, FinishedRequest>;
  keys: Map<string, string>;
  answers: Map<string, DecisionAnswer>;
  clients: Map<string, number>;
};

export const brokerMachine = setup({
  types: {} as { context: Ctx; input: BrokerInput; events: BrokerEvent | { type: 'request.expire'; requestId: string; at?: number } },
  actions: {
    persist: (_: unknown, _record: PersistRecord) => {},
  },
}).createMachine({
  id: 'broker',
  context: ({ input }) => {
    const ctx: Ctx = { epoch: input.epoch, head: input.headSeq, live: new Map(), finished: new Map(), keys: new Map(), answers: new Map(), clients: new Map() };
    for (const r of input.unresolved) {
      ctx.live.set(r.id, { ...r, state: 'pending' });
      if (r.idempotencyKey) ctx.keys.set(r.idempotencyKey, r.id);
    }
    for (const f of input.finished) {
      ctx.finished.set(f.id, f);
      if (f.idempotencyKey) ctx.keys.set(f.idempotencyKey, f.id);
    }
    for (const a of input.clientAnswers) ctx.answers.set(a.clientMsgId, a.answer);
    return ctx;
  },
  entry: enqueueActions(({ context, enqueue }) => {
    for (const r of context.live.values()) {
      enqueue.raise({ type: 'request.expire', requestId: r.id }, { delay: Math.max(0, r.expiresAt - Date.now()), id: r.id });
    }
  }),
  on: {
    '*': {
      actions: enqueueActions(({ context: ctx, event: e, enqueue }) => {
        const append = (event: Omit<SequencedEvent, 'seq'>, request?: PersistRecord & { kind: 'event' }): SequencedEvent => {
          ctx.head += 1;
          const full = { ...event, seq: ctx.head } as SequencedEvent;
          enqueue({ type: 'persist', params: { kind: 'event', event: full, ...(request?.request ? { request: request.request } : {}) } as PersistRecord });
          enqueue.emit({ type: 'stream.event', event: full } as never);
          return full;
        };
        const finish = (r: Live, outcome: FinishedRequest['outcome']) => {
          ctx.live.delete(r.id);
          ctx.finished.set(r.id, { id: r.id, toolName: r.toolName, seq: r.seq, outcome, idempotencyKey: r.idempotencyKey, bodyHash: r.bodyHash });
          enqueue.cancel(r.id);
          enqueue.emit({ type: 'queue.changed' } as never);
        };
        const rejectionFor = (id: string): DecisionAnswer => {
          const f = ctx.finished.get(id);
          if (!f) return { status: 'rejected', requestId: id, code: 'unknown-request', message: `no request ${id}` };
          const code = f.outcome.status === 'resolved' ? 'already-resolved' : f.outcome.status === 'timedOut' ? 'expired' : 'cancelled';
          return { status: 'rejected', requestId: id, code, message: code, ...(code === 'already-resolved' ? { decision: f.outcome.decision } : {}) };
        };
        switch (e.type) {
          case 'request.create': {
            if (e.idempotencyKey && ctx.keys.has(e.idempotencyKey)) {
              const id = ctx.keys.get(e.idempotencyKey)!;
              const r = ctx.live.get(id) ?? ctx.finished.get(id)!;
              const same = r.bodyHash === e.bodyHash;
              const seq = r.seq;
              const expiresAt = 'expiresAt' in r ? r.expiresAt : 0;
              enqueue.emit({ type: 'create.answer', ref: e.ref, answer: same ? { status: 'existing', id, seq, expiresAt } : { status: 'conflict', id } } as never);
              return;
            }
            const expiresAt = e.at + e.request.timeoutMs;
            const ev = append(
              { type: 'permission-request', id: e.request.id, toolName: e.request.toolName, input: e.request.input, context: e.request.context, timestamp: e.at, expiresAt } as never,
              { kind: 'event', event: null as never, request: { origin: e.origin, idempotencyKey: e.idempotencyKey, bodyHash: e.bodyHash } },
            );
            ctx.live.set(e.request.id, { id: e.request.id, toolName: e.request.toolName, input: e.request.input, context: e.request.context, timestamp: e.at, expiresAt, seq: ev.seq, origin: e.origin, idempotencyKey: e.idempotencyKey, bodyHash: e.bodyHash, state: 'pending' });
            if (e.idempotencyKey) ctx.keys.set(e.idempotencyKey, e.request.id);
            enqueue.raise({ type: 'request.expire', requestId: e.request.id }, { delay: Math.min(e.request.timeoutMs, 2_000_000_000), id: e.request.id });
            enqueue.emit({ type: 'create.answer', ref: e.ref, answer: { status: 'created', id: e.request.id, seq: ev.seq, expiresAt } } as never);
            enqueue.emit({ type: 'queue.changed' } as never);
            return;
          }
          case 'permission.decide': {
            if (e.clientMsgId && ctx.answers.has(e.clientMsgId)) {
              enqueue.emit({ type: 'decision.answer', ref: e.ref, clientMsgId: e.clientMsgId, answer: ctx.answers.get(e.clientMsgId)!, replayed: true } as never);
              return;
            }
            const r = ctx.live.get(e.requestId);
            let answer: DecisionAnswer;
            if (!r) answer = rejectionFor(e.requestId);
            else {
              append({ type: 'permission-resolved', requestId: r.id, decision: e.decision, ...(e.updatedInput ? { updatedInput: e.updatedInput } : {}), ...(e.message ? { message: e.message } : {}), decidedBy: e.decidedBy, timestamp: e.at } as never);
              finish(r, { status: 'resolved', decision: e.decision, decidedBy: e.decidedBy, decidedAt: e.at });
              answer = { status: 'accepted', requestId: r.id };
            }
            if (e.clientMsgId) {
              ctx.answers.set(e.clientMsgId, answer);
              enqueue({ type: 'persist', params: { kind: 'client-answer', record: { clientMsgId: e.clientMsgId, requestId: e.requestId, answer } } });
            }
            enqueue.emit({ type: 'decision.answer', ref: e.ref, clientMsgId: e.clientMsgId, answer, replayed: false } as never);
            return;
          }
          case 'request.cancel': {
            const r = ctx.live.get(e.requestId);
            if (!r) {
              enqueue.emit({ type: 'cancel.answer', ref: e.ref, answer: rejectionFor(e.requestId) } as never);
              return;
            }
            append({ type: 'permission-cancelled', requestId: r.id, reason: e.reason, timestamp: e.at } as never);
            finish(r, { status: 'cancelled', decision: 'deny', decidedBy: e.cancelledBy, decidedAt: e.at, reason: e.reason });
            enqueue.emit({ type: 'cancel.answer', ref: e.ref, answer: { status: 'cancelled', requestId: r.id } } as never);
            return;
          }
          case 'request.expire': {
            const r = ctx.live.get(e.requestId);
            if (!r) return;
            append({ type: 'permission-timeout', requestId: r.id, toolName: r.toolName, timestamp: Date.now() } as never);
            finish(r, { status: 'timedOut', decision: 'deny', decidedBy: 'timeout', decidedAt: Date.now() });
            return;
          }
          case 'request.sent':
            for (const r of ctx.live.values()) if (r.state === 'pending' && r.seq <= e.upToSeq) r.state = 'sent';
            enqueue.emit({ type: 'queue.changed' } as never);
            return;
          case 'client.ack':
            ctx.clients.set(e.clientId, e.seq);
            for (const r of ctx.live.values()) if (r.seq <= e.seq) r.state = 'acked';
            enqueue.emit({ type: 'queue.changed' } as never);
            return;
          case 'client.connect':
            ctx.clients.set(e.clientId, 0);
            return;
          case 'client.disconnect':
            ctx.clients.delete(e.clientId);
            return;
          case 'stream.append':
            append(e.event as never);
            return;
        }
      }),
    },
  },
});

export function queueStatusOf(snapshot: { context: Ctx }) {
  const live = [...snapshot.context.live.values()];
  return { pending: live.length, processing: live.filter((r) => r.state === 'acked').length };
}

export function unresolvedRequestEventsOf(snapshot: { context: Ctx }): PermissionRequestEvent[] {
  return [...snapshot.context.live.values()]
    .sort((a, b) => a.seq - b.seq)
    .map((r) => ({ type: 'permission-request', seq: r.seq, id: r.id, toolName: r.toolName, input: r.input, context: r.context, timestamp: r.timestamp, expiresAt: r.expiresAt }));
}
