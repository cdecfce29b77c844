/**
 * The WebSocket hub (protocol-v1.md §3): every connected client, the relay of committed
 * events to them, resume by `since` + `epoch` or snapshot, client frames turned into
 * broker commands, the coalesced queue status, protocol pings and the slow-consumer rule.
 *
 * Join happens inside `host.whenQuiet`: the history (or snapshot) is read and the client
 * is added to the live set in one synchronous step at a point where everything the actor
 * knows is committed and relayed, so an event is neither missed nor sent twice.
 *
 * A snapshot larger than one frame goes out in parts (snapshotParts.ts), paced by the
 * socket: the next part is written once the previous one left. Meanwhile the client's
 * live events wait in a backlog (bounded like a send buffer: past `maxBufferedBytes` it
 * is closed with 4000, and starts afresh), written right after the last part.
 */
import {
  CLOSE_CODES,
  ERROR_CODES,
  LIMITS,
  PROTOCOL_VERSION,
  clientMessage,
  parseJsonText,
  parseWith,
  type ErrorCode,
  type PermissionResponse,
  type RememberOutcome,
  type SequencedEvent,
  type ServerMessage,
} from '../../protocol/index.ts';
import type { WebSocket } from 'ws';
import type { AgentChoiceBook, ChoiceAttempt } from '../agentChoiceBook.ts';
import { HostStoppedError, type BrokerHost } from '../brokerHost.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { EventStore } from '../store/types.ts';
import { checkLabel, ClientConnection, newClientId, type ConnectionParams } from './connection.ts';
import { SnapshotParts } from './snapshotParts.ts';

export type DecisionObserver = (info: {
  requestId: string;
  decision: 'allow' | 'deny';
  decidedBy: string;
  via: 'ws' | 'http';
  /** The deciding peer's address, when known. */
  address?: string;
  /** The device that decided, when its cookie authenticated the call or socket. */
  device?: { id: string; name: string };
  remember?: PermissionResponse['remember'];
}) => void;

/** A decision's `remember`, as the rule engine sees it (the edited input when there is one). */
export type RememberRequest = {
  requestId: string;
  decision: 'allow' | 'deny';
  decidedBy: string;
  remember: NonNullable<PermissionResponse['remember']>;
  updatedInput?: Record<string, unknown>;
};

/** The rule engine's two steps around a decision that carries `remember`. */
export type RememberGate = {
  /** Before deciding: an `invalid-message` text when it cannot be honoured (nothing is decided). */
  checkRemember(req: RememberRequest): string | undefined;
  /** After the decision is committed: the rule made, or why none. */
  applyRemember(req: RememberRequest): RememberOutcome;
};

export type HubOptions = {
  host: BrokerHost;
  store: EventStore;
  logger: Logger;
  metrics?: Metrics;
  maxBufferedBytes: number;
  pingIntervalMs: number;
  rateLimit: number;
  /** Queue status goes out at most this often (coalesced). */
  queueStatusIntervalMs?: number;
  /** After an accepted decision is committed (rules, audit). */
  onDecisionAccepted?: DecisionObserver;
  /** Checks and applies a decision's `remember` (the rule engine). */
  rememberGate?: RememberGate;
  /** Checks and writes down a decision's `agentChoice` (agentChoiceBook.ts). */
  agentChoices?: AgentChoiceBook;

  /** No snapshot frame is larger than this (default: the client frame limit, 1 MiB). */
  maxFrameBytes?: number;
};

/** A snapshot still going out in parts, and the live frames that wait for its end. */
type SnapshotStream = { parts: SnapshotParts; head: number; backlog: string[]; backlogBytes: number; hadRequests: boolean };

/** Buffered bytes beyond bound x this, right after a write, drop the client at once. */
const HARD_CAP_FACTOR = 4;

type SnapshotReason = 'no-since' | 'no-epoch' | 'other-epoch' | 'invalid-since' | 'too-old' | 'too-new';

export class Hub {
  private readonly clients = new Set<ClientConnection>();
  private readonly live = new Set<ClientConnection>();
  private readonly ids = new Set<string>();
  private readonly streams = new Map<ClientConnection, SnapshotStream>();
  private readonly host: BrokerHost;
  private readonly store: EventStore;
  private readonly logger: Logger;
  private readonly metrics?: Metrics;
  private readonly options: HubOptions;
  private pingTimer: NodeJS.Timeout;
  private queueTimer: NodeJS.Timeout | null = null;
  private lastQueueSentAt = 0;
  private readonly offCommitted: () => void;
  private readonly offQueue: () => void;
  private stopping = false;

  constructor(options: HubOptions) {
    this.options = options;
    this.host = options.host;
    this.store = options.store;
    this.logger = options.logger;
    this.metrics = options.metrics;
    this.offCommitted = this.host.onCommitted((events) => this.relay(events));
    this.offQueue = this.host.onQueueChanged(() => this.queueChanged());
    this.pingTimer = setInterval(() => this.pingAll(), options.pingIntervalMs);
    this.pingTimer.unref();
  }

  get size(): number {
    return this.clients.size;
  }

  // ---- lifecycle of one client ------------------------------------------------------

  attach(raw: WebSocket, params: ConnectionParams): ClientConnection {
    let id = newClientId(params.browser);
    while (this.ids.has(id)) id = newClientId(params.browser);
    this.ids.add(id);
    const conn = new ClientConnection(raw, {
      id,
      // The default label is the clientId, so a client recognises its own `decidedBy`. The
      // route refused a bad label already (400); should one get here, the id is used.
      label: (() => {
        const checked = checkLabel(params.label);
        return (checked.ok && checked.label) || id;
      })(),
      params,
      rateLimit: this.options.rateLimit,
      onSendFailure: (c, error) => {
        this.metrics?.sendFailures.inc();
        this.logger.debug('websocket', 'send failed', { client: c.id, error: error.message });
      },
    });
    this.clients.add(conn);
    this.metrics?.connectionsTotal.inc();
    raw.on('pong', () => {
      conn.alive = true;
    });
    raw.on('error', (error: Error & { code?: string }) => {
      if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') this.metrics?.policyCloses.inc({ code: String(CLOSE_CODES.tooBig) });
      this.logger.debug('websocket', 'socket error', { client: conn.id, error: error.message, code: error.code });
    });
    if (this.stopping) {
      conn.close(CLOSE_CODES.goingAway, 'server stopping');
      return conn;
    }
    this.host.connect(conn.id, conn.label);
    this.logger.debug('websocket', 'connect', { client: conn.id, label: conn.label, since: params.since, epoch: params.epoch });
    this.host.whenQuiet(() => this.join(conn));
    return conn;
  }

  detach(conn: ClientConnection, code?: number): void {
    if (conn.closed) return;
    conn.closed = true;
    conn.dropped = true;
    this.clients.delete(conn);
    this.live.delete(conn);
    this.streams.delete(conn);
    this.ids.delete(conn.id);
    if (!this.host.isStopped) this.host.disconnect(conn.id);
    this.logger.debug('websocket', 'disconnect', { client: conn.id, code });
  }

  private snapshotReason(params: ConnectionParams): { since: number } | { reason: SnapshotReason } {
    if (params.since === undefined) return { reason: 'no-since' };
    if (!/^\d{1,15}$/.test(params.since)) return { reason: 'invalid-since' };
    if (!params.epoch) return { reason: 'no-epoch' };
    if (params.epoch !== this.host.epoch) return { reason: 'other-epoch' };
    return { since: Number(params.since) };
  }

  /** Runs at a quiet point: history or snapshot, then live, in one synchronous step. */
  private join(conn: ClientConnection): void {
    if (conn.closed || conn.dropped) return;
    const head = this.host.head();
    const resume = this.snapshotReason(conn.params);
    let events: SequencedEvent[] | undefined;
    let reason: SnapshotReason | undefined;
    if ('since' in resume) {
      const result = this.store.eventsSince(resume.since);
      if (result.ok) events = result.events.filter((e) => e.seq <= head);
      else reason = result.reason;
    } else {
      reason = resume.reason;
    }
    conn.cork();
    conn.send({ type: 'welcome', protocol: PROTOCOL_VERSION, epoch: this.host.epoch, seq: head, resumed: events !== undefined, clientId: conn.id });
    let sentRequests = false;
    if (events) {
      for (const event of events) {
        conn.sendText(JSON.stringify(event));
        if (event.type === 'permission-request') sentRequests = true;
      }
      conn.lastQueue = this.queueText();
      conn.sendText(conn.lastQueue);
      this.metrics?.resumes.inc();
      this.logger.debug('websocket', 'resume', { client: conn.id, since: conn.params.since, events: events.length, head });
    } else {
      const requests = this.host.unresolvedEvents();
      sentRequests = requests.length > 0;
      const queue = this.host.queueStatus();
      const parts = new SnapshotParts(requests, head, queue, this.options.maxFrameBytes ?? LIMITS.maxFrameBytes);
      conn.sendText(parts.nextFrame());
      conn.lastQueue = JSON.stringify({ type: 'permission-queue-status', pending: queue.pending, processing: queue.processing });
      this.metrics?.snapshotFallbacks.inc({ reason: reason ?? 'no-since' });
      this.logger.debug('websocket', 'snapshot', { client: conn.id, reason, requests: requests.length, head, more: !parts.done || undefined });
      if (!parts.done) {
        this.streams.set(conn, { parts, head, backlog: [], backlogBytes: 0, hadRequests: sentRequests });
        sentRequests = false; // marked sent once the last part is written
      }
    }
    conn.uncork();
    conn.joined = true;
    this.live.add(conn);
    if (sentRequests && head > 0) this.host.markSent(head);
    const stream = this.streams.get(conn);
    if (stream) this.pump(conn, stream);
    const early = conn.early;
    conn.early = [];
    for (const frame of early) this.onFrame(conn, frame);
  }

  /** The next snapshot part, once the socket took the previous one; after the last, the
   *  backlog of live frames, then the live stream. */
  private pump(conn: ClientConnection, stream: SnapshotStream): void {
    if (this.streams.get(conn) !== stream) return;
    if (!conn.writable) {
      this.streams.delete(conn);
      return;
    }
    if (!stream.parts.done) {
      const frame = stream.parts.nextFrame();
      conn.sendText(frame, (error) => {
        if (!error) this.pump(conn, stream);
        else if (this.streams.get(conn) === stream) this.dropSlow(conn);
      });
      return;
    }
    this.streams.delete(conn);
    if (stream.parts.oversize > 0)
      this.logger.warn('snapshot requests larger than a frame were sent alone', { client: conn.id, requests: stream.parts.oversize });
    this.logger.debug('websocket', 'snapshot sent', { client: conn.id, frames: stream.parts.frames, backlog: stream.backlog.length });
    conn.cork();
    for (const text of stream.backlog) conn.sendText(text);
    const queue = this.queueText();
    if (queue !== conn.lastQueue) {
      conn.lastQueue = queue;
      conn.sendText(queue);
    }
    conn.uncork();
    if (stream.hadRequests && stream.head > 0) this.host.markSent(stream.head);
  }

  // ---- server to clients ----------------------------------------------------------------

  private relay(events: readonly SequencedEvent[]): void {
    if (this.live.size === 0 || events.length === 0) return;
    const texts = events.map((event) => JSON.stringify(event));
    let wrote = 0;
    const bound = this.options.maxBufferedBytes;
    for (const conn of this.live) {
      if (!conn.writable) continue;
      const stream = this.streams.get(conn);
      if (stream) {
        // Still receiving its snapshot: these follow its last part.
        for (const text of texts) {
          stream.backlog.push(text);
          stream.backlogBytes += Buffer.byteLength(text);
        }
        if (stream.backlogBytes > bound) this.dropSlow(conn);
        continue;
      }
      // What is still buffered from earlier ticks says whether this client keeps up; a
      // single large tick alone (or bytes waiting for compression) does not.
      if (conn.bufferedAmount > bound) {
        this.dropSlow(conn);
        continue;
      }
      conn.cork();
      let ok = true;
      for (const text of texts) ok = conn.sendText(text) && ok;
      conn.uncork();
      if (ok) wrote += 1;
      this.metrics?.framesOut.inc(texts.length);
      // A hard cap, so one huge burst cannot hold unbounded memory for a stalled peer.
      if (conn.bufferedAmount > bound * HARD_CAP_FACTOR) this.dropSlow(conn);
    }
    const last = events[events.length - 1].seq;
    if (this.logger.enabled('websocket')) {
      for (const event of events) this.logger.debug('websocket', 'send', { type: event.type, seq: event.seq, clients: wrote });
    }
    if (wrote > 0) this.host.markSent(last);
  }

  /** A client that does not read: drop it on purpose; it resumes with `since`. */
  private dropSlow(conn: ClientConnection): void {
    this.metrics?.slowConsumers.inc();
    this.logger.debug('websocket', 'slow consumer closed', { client: conn.id, buffered: conn.bufferedAmount });
    this.live.delete(conn);
    this.streams.delete(conn);
    conn.close(CLOSE_CODES.slowConsumer, 'slow consumer: reconnect with since');
  }

  private queueChanged(): void {
    if (this.queueTimer) return;
    const interval = this.options.queueStatusIntervalMs ?? 50;
    const wait = Math.max(0, this.lastQueueSentAt + interval - Date.now());
    this.queueTimer = setTimeout(() => {
      this.queueTimer = null;
      this.sendQueueStatus();
    }, wait);
  }

  private queueText(): string {
    const status = this.host.queueStatus();
    return JSON.stringify({ type: 'permission-queue-status', pending: status.pending, processing: status.processing } satisfies ServerMessage);
  }

  /** Each client gets the status when it differs from the last one it was told (its
   *  snapshot counts), so a client never misses a change another client already saw. */
  private sendQueueStatus(): void {
    if (this.host.isStopped) return;
    const text = this.queueText();
    this.lastQueueSentAt = Date.now();
    for (const conn of this.live) {
      if (conn.lastQueue === text || this.streams.has(conn)) continue;
      conn.lastQueue = text;
      conn.sendText(text);
    }
  }

  private pingAll(): void {
    for (const conn of this.clients) {
      if (!conn.alive) {
        this.logger.debug('websocket', 'dead peer terminated', { client: conn.id });
        conn.dropped = true;
        conn.raw.terminate();
        continue;
      }
      conn.alive = false;
      try {
        conn.raw.ping();
      } catch {
        conn.raw.terminate();
      }
    }
  }

  // ---- clients to server ----------------------------------------------------------------

  onFrame(conn: ClientConnection, data: string | ArrayBuffer | unknown): void {
    if (conn.closed) return;
    conn.alive = true;
    this.metrics?.framesIn.inc();
    const verdict = conn.limiter.take();
    if (verdict === 'abuse') {
      this.metrics?.policyCloses.inc({ code: String(CLOSE_CODES.policyViolation) });
      conn.close(CLOSE_CODES.policyViolation, 'rate limit exceeded repeatedly');
      return;
    }
    if (verdict !== 'ok') {
      this.metrics?.rateLimited.inc();
      if (verdict === 'limited-first') this.sendError(conn, ERROR_CODES.rateLimited, 'too many frames: slow down (frames are being dropped)');
      return;
    }
    if (!conn.joined) {
      conn.early.push(data as string);
      return;
    }
    if (typeof data !== 'string') {
      this.invalid(conn, 'binary frames are not supported: send JSON text');
      return;
    }
    const json = parseJsonText(data);
    if (!json.ok) {
      this.invalid(conn, json.error);
      return;
    }
    const value = json.value;
    const ref =
      typeof (value as { clientMsgId?: unknown })?.clientMsgId === 'string' ? (value as { clientMsgId: string }).clientMsgId.slice(0, 128) : undefined;
    const parsed = parseWith(clientMessage, value);
    if (!parsed.ok) {
      this.invalid(conn, parsed.error, ref);
      return;
    }
    const message = parsed.value;
    switch (message.type) {
      case 'ping':
        conn.send({ type: 'pong', ...(message.id !== undefined ? { id: message.id } : {}), serverTime: Date.now() });
        return;
      case 'ack': {
        const head = this.host.head();
        if (message.seq > head) {
          this.invalid(conn, `seq: ${message.seq} is beyond the head of the stream (${head})`);
          return;
        }
        this.host.ack(conn.id, message.seq);
        this.logger.debug('websocket', 'ack', { client: conn.id, seq: message.seq });
        return;
      }
      case 'permission-response':
        this.decide(conn, message);
        return;
      default: {
        const never: never = message;
        this.invalid(conn, `type: unknown message type ${(never as { type: string }).type}`);
      }
    }
  }

  private decide(conn: ClientConnection, message: PermissionResponse): void {
    const ref = message.clientMsgId;
    const rememberReq: RememberRequest | undefined = message.remember
      ? {
          requestId: message.requestId,
          decision: message.decision,
          decidedBy: conn.label,
          remember: message.remember,
          ...(message.updatedInput ? { updatedInput: message.updatedInput } : {}),
        }
      : undefined;
    // A `remember` that cannot be honoured is refused before anything is decided.
    const refusal = rememberReq ? this.options.rememberGate?.checkRemember(rememberReq) : undefined;
    if (refusal) {
      this.sendError(conn, ERROR_CODES.invalidMessage, refusal, ref, message.requestId);
      return;
    }
    const attempt: ChoiceAttempt = {
      requestId: message.requestId,
      decision: message.decision,
      decidedBy: conn.label,
      ...(message.agentChoice !== undefined ? { agentChoice: message.agentChoice } : {}),
      hasRemember: message.remember !== undefined,
      hasUpdatedInput: message.updatedInput !== undefined,
    };
    const choices = this.options.agentChoices;
    const choiceRefusal =
      message.agentChoice === undefined
        ? undefined
        : choices
          ? choices.check(attempt, this.store.getRequest(message.requestId)?.context)
          : 'agentChoice: this server takes no agent choices';
    if (choiceRefusal) {
      this.sendError(conn, ERROR_CODES.invalidMessage, choiceRefusal, ref, message.requestId);
      return;
    }
    let pending;
    let recorded: object | undefined;
    try {
      // Written down in the same synchronous step as the decide (agentChoiceBook.ts).
      recorded = choices?.record(attempt);
      pending = this.host.decide({
        requestId: message.requestId,
        decision: message.decision,
        decidedBy: conn.label,
        via: 'ws',
        ...(message.updatedInput !== undefined ? { updatedInput: message.updatedInput } : {}),
        ...(message.message !== undefined ? { message: message.message } : {}),
        ...(ref !== undefined ? { clientMsgId: ref } : {}),
      });
    } catch (error) {
      const stopping = error instanceof HostStoppedError;
      this.sendError(
        conn,
        ERROR_CODES.internal,
        stopping ? 'the server is stopping: send it again after reconnecting' : 'internal error',
        ref,
        message.requestId,
      );
      if (!stopping) this.logger.error('decision failed', { error: String(error) });
      return;
    }
    pending.then(
      ({ answer, replayed }) => {
        if (answer.status === 'accepted') {
          let remembered: RememberOutcome | undefined;
          if (rememberReq && !replayed && this.options.rememberGate) {
            try {
              remembered = this.options.rememberGate.applyRemember(rememberReq);
            } catch (error) {
              remembered = { created: false, reason: 'internal error while making the rule' };
              this.logger.error('remember failed', { error: String(error) });
            }
          }
          conn.send({
            type: 'ack',
            ...(ref !== undefined ? { ref } : {}),
            requestId: answer.requestId,
            status: 'accepted',
            ...(remembered ? { remember: remembered } : {}),
          });
          if (!replayed) {
            this.options.onDecisionAccepted?.({
              requestId: answer.requestId,
              decision: message.decision,
              decidedBy: conn.label,
              via: 'ws',
              ...(conn.params.address ? { address: conn.params.address } : {}),
              ...(conn.params.device ? { device: { id: conn.params.device.id, name: conn.params.device.name } } : {}),
              ...(message.remember ? { remember: message.remember } : {}),
            });
          }
        } else {
          choices?.forget(message.requestId, recorded);
          conn.send({
            type: 'error',
            code: answer.code,
            message: answer.message,
            ...(ref !== undefined ? { ref } : {}),
            requestId: answer.requestId,
            ...(answer.decision ? { decision: answer.decision } : {}),
          });
        }
      },
      (error: unknown) => {
        this.sendError(conn, ERROR_CODES.internal, 'internal error', ref, message.requestId);
        this.logger.error('decision failed', { error: String(error) });
      },
    );
  }

  private invalid(conn: ClientConnection, why: string, ref?: string): void {
    this.metrics?.invalidMessages.inc();
    this.logger.debug('websocket', 'invalid message', { client: conn.id, why });
    if (conn.invalidStrikes.strike()) {
      this.metrics?.policyCloses.inc({ code: String(CLOSE_CODES.policyViolation) });
      conn.close(CLOSE_CODES.policyViolation, 'too many invalid messages');
      return;
    }
    this.sendError(conn, ERROR_CODES.invalidMessage, why, ref);
  }

  private sendError(conn: ClientConnection, code: ErrorCode, message: string, ref?: string, requestId?: string): void {
    conn.send({ type: 'error', code, message, ...(ref !== undefined ? { ref } : {}), ...(requestId !== undefined ? { requestId } : {}) });
  }

  // ---- devices (server/security/devices.ts) ------------------------------------------------

  /** The clientIds of the sockets a device's cookie opened. */
  clientsOf(deviceId: string): string[] {
    return [...this.clients].filter((conn) => conn.params.device?.id === deviceId).map((conn) => conn.id);
  }

  /** A device was ended: its sockets close with 1008 now (they were authenticated once,
   *  at the upgrade). Returns how many. */
  closeDevice(deviceId: string): number {
    let closed = 0;
    for (const conn of this.clients) {
      if (conn.params.device?.id !== deviceId) continue;
      conn.close(CLOSE_CODES.policyViolation, 'device ended');
      // Detached now, not at the close handshake: a frame already on its way (a
      // decision) is ignored from this point on.
      this.detach(conn, CLOSE_CODES.policyViolation);
      closed += 1;
    }
    return closed;
  }

  // ---- shutdown ---------------------------------------------------------------------------

  /** Close every socket (1001 on shutdown) and stop the timers. */
  closeAll(code: number = CLOSE_CODES.goingAway, reason = 'server stopping'): void {
    this.stopping = true;
    clearInterval(this.pingTimer);
    if (this.queueTimer) clearTimeout(this.queueTimer);
    this.queueTimer = null;
    for (const conn of this.clients) conn.close(code, reason);
  }

  /** Sockets still open after closeAll (for a forced end). */
  terminateAll(): void {
    for (const conn of this.clients) conn.raw.terminate();
  }

  dispose(): void {
    this.closeAll();
    this.offCommitted();
    this.offQueue();
  }
}
