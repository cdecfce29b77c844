/**
 * An in-memory model of the event store, for tests: it applies PersistRecords the way
 * the SQLite store does and builds the BrokerInput a restarted broker starts from.
 * The server's store should behave the same (same records in, same input out).
 *
 * It also checks what it is given: each sequenced event must be the next seq, and an
 * outcome event must name an unresolved request; a broken record throws.
 */
import type { SequencedEvent } from '../../protocol/index.ts';
import type { BrokerInput, ClientAnswerRecord, FinishedRequest, Outcome, PersistRecord, StoredRequest } from '../broker.types.ts';
import { timeoutOutcome } from '../permissionRequest.machine.ts';

type Row = { request: StoredRequest; outcome?: Outcome; outcomeSeq?: number };

export class MemoryStore {
  readonly log: SequencedEvent[] = [];
  readonly records: PersistRecord[] = [];
  private readonly rows = new Map<string, Row>();
  /** Ids in the order they finished. */
  private readonly finishedOrder: string[] = [];
  private readonly answers = new Map<string, ClientAnswerRecord>();

  constructor(readonly epoch: string = 'epoch-test') {}

  get headSeq(): number {
    return this.log.length === 0 ? 0 : this.log[this.log.length - 1]!.seq;
  }

  apply(record: PersistRecord): void {
    this.records.push(record);
    if (record.kind === 'client-answer') {
      this.answers.delete(record.record.clientMsgId);
      this.answers.set(record.record.clientMsgId, record.record);
      return;
    }
    const event = record.event;
    if (event.seq !== this.headSeq + 1) throw new Error(`store: seq ${event.seq} after head ${this.headSeq}`);
    this.log.push(event);
    switch (event.type) {
      case 'permission-request': {
        if (this.rows.has(event.id)) throw new Error(`store: request ${event.id} twice`);
        const request: StoredRequest = {
          id: event.id,
          toolName: event.toolName,
          input: event.input,
          context: event.context,
          timestamp: event.timestamp,
          expiresAt: event.expiresAt,
          seq: event.seq,
          origin: record.request?.origin ?? 'http',
        };
        if (record.request?.idempotencyKey !== undefined) request.idempotencyKey = record.request.idempotencyKey;
        if (record.request?.bodyHash !== undefined) request.bodyHash = record.request.bodyHash;
        this.rows.set(event.id, { request });
        return;
      }
      case 'permission-resolved':
      case 'permission-timeout':
      case 'permission-cancelled': {
        const row = this.rows.get(event.requestId);
        if (!row) throw new Error(`store: outcome for unknown request ${event.requestId}`);
        if (row.outcome) throw new Error(`store: second outcome for ${event.requestId}`);
        row.outcome = record.outcome ?? rebuildOutcome(event, row.request);
        row.outcomeSeq = event.seq;
        this.finishedOrder.push(event.requestId);
        return;
      }
      case 'chat-message':
      case 'session-updated':
        return;
      default: {
        const never: never = event;
        throw new Error(`store: unknown event ${JSON.stringify(never)}`);
      }
    }
  }

  /** What a broker restarted at `now` starts from. */
  load(now: number, recentLimit = 10_000): BrokerInput {
    const unresolved = [...this.rows.values()]
      .filter((row) => !row.outcome)
      .map((row) => row.request)
      .sort((a, b) => a.seq - b.seq);
    const finished: FinishedRequest[] = this.finishedOrder.slice(-recentLimit).map((id) => {
      const { request, outcome } = this.rows.get(id)!;
      const item: FinishedRequest = { id, toolName: request.toolName, seq: request.seq, outcome: outcome!, expiresAt: request.expiresAt };
      if (request.idempotencyKey !== undefined) item.idempotencyKey = request.idempotencyKey;
      if (request.bodyHash !== undefined) item.bodyHash = request.bodyHash;
      return item;
    });
    const clientAnswers = [...this.answers.values()].slice(-recentLimit);
    return { epoch: this.epoch, headSeq: this.headSeq, now, unresolved, finished, clientAnswers, recentLimit };
  }

  outcomeOf(id: string): Outcome | undefined {
    return this.rows.get(id)?.outcome;
  }
}

/** For records without `outcome` (older writers): what the event itself says. */
function rebuildOutcome(event: SequencedEvent, request: StoredRequest): Outcome {
  switch (event.type) {
    case 'permission-resolved': {
      const outcome: Outcome = { status: 'resolved', decision: event.decision, decidedBy: event.decidedBy, decidedAt: event.timestamp };
      if (event.updatedInput !== undefined) outcome.updatedInput = event.updatedInput;
      if (event.message !== undefined) outcome.message = event.message;
      return outcome;
    }
    case 'permission-timeout':
      return { ...timeoutOutcome(request), decidedAt: event.timestamp };
    case 'permission-cancelled':
      return {
        status: 'cancelled',
        decision: 'deny',
        decidedBy: 'agent',
        decidedAt: event.timestamp,
        reason: event.reason,
        message: `Cancelled: ${event.reason}`,
      };
    default:
      throw new Error(`store: ${event.type} is not an outcome event`);
  }
}
