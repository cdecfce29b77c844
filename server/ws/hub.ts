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
  type AgentChoice,
  type ErrorCode,
  type PermissionResponse,
  type SequencedEvent,
  type ServerMessage,
} from '../../protocol/index.ts';
import type { WebSocket } from 'ws';
import type { AgentChoiceBook, ChoiceAttempt } from '../agentChoiceBook.ts';
import { HostStoppedError, type BrokerHost, type DecideResult } from '../brokerHost.ts';
import { RememberRefusedError } from '../decisions.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { DeviceGate } from '../security/deviceGate.ts';
import type { EventStore } from '../store/types.ts';
import { checkLabel, ClientConnection, newClientId, type ConnectionParams } from './connection.ts';
import { SnapshotParts } from './snapshotParts.ts';

// The decision follow-up types moved to server/decisions.ts (the host runs them).
export type { DecisionObserver, RememberGate, RememberRequest } from '../decisions.ts';

export type HubOptions = {
  host: BrokerHost;
  store: EventStore;
  logger: Logger;
  metrics?: Metrics | undefined;
  maxBufferedBytes: number;
  pingIntervalMs: number;
  rateLimit: number;
  /** Queue status goes out at most this often (coalesced). */
  queueStatusIntervalMs?: number;
  /** Checks and writes down a decision's `agentChoice` (agentChoiceBook.ts). */
  agentChoices?: AgentChoiceBook;

  /** No snapshot frame is larger than this (default: the client frame limit, 1 MiB). */
  maxFrameBytes?: number;
  /** A shared store (several instances): a device socket's decisions are accepted only
   *  while the store says its device exists (security/deviceGate.ts). Without it (SQLite,
   *  one instance: a revocation closes the sockets in its own step) none is asked. */
  deviceGate?: DeviceGate | undefined;
};

/** Decisions of one device socket waiting for the gate at most; more are refused
 *  (rate-limited) so a store that stalls cannot make a socket's queue grow without end. */
export const MAX_GATED_DECISIONS = 256;

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
  private readonly metrics?: Metrics | undefined;
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
    // A client resuming past this instance's head came from another instance (several
    // instances, docs/cluster.md): catch up from the store first, so its resume is served.
    const since = params.since !== undefined && /^\d{1,15}$/.test(params.since) ? Number(params.since) : 0;
    if (this.host.following && since > this.host.head()) {
      void this.host.catchUp().then(() => this.host.whenQuiet(() => this.join(conn)));
    } else {
      this.host.whenQuiet(() => this.join(conn));
    }
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

  /** Runs at a quiet point: history or snapshot, then live. The host starts no commit
   *  while the returned promise is pending (whenQuiet), so the history read from the
   *  store ends at `head` and the first live event relayed after it is `head + 1`. */
  private async join(conn: ClientConnection): Promise<void> {
    if (conn.closed || conn.dropped) return;
    const head = this.host.head();
    const resume = this.snapshotReason(conn.params);
    let events: SequencedEvent[] | undefined;
    let reason: SnapshotReason | undefined;
    if ('since' in resume) {
      const result = await this.store.eventsSince(resume.since);
      if (conn.closed || conn.dropped) return;
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
    // A resume says what the client holds (every event up to `since`), as an ack does: a
    // client that resumes with nothing new sends no ack of its own, and without this the
    // server would count none of its requests as held (`processing`, Web Push's isHeld).
    if (events && 'since' in resume && resume.since > 0) this.host.ack(conn.id, resume.since);
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
    const last = events[events.length - 1]!.seq; // not empty: checked on entry
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
        if (conn.params.device && this.options.deviceGate) this.decideIfDevice(conn, conn.params.device.id, message, this.options.deviceGate);
        else this.decide(conn, message);
        return;
      default: {
        const never: never = message;
        this.invalid(conn, `type: unknown message type ${(never as { type: string }).type}`);
      }
    }
  }

  /** A `permission-response`: decided through the host's one decision path (which checks
   *  `remember`, and after the commit makes the rule and tells the audit), then answered
   *  with an `ack` or an `error` naming the request. */
  private decide(conn: ClientConnection, message: PermissionResponse): void {
    const ref = message.clientMsgId;
    if (message.agentChoice === undefined) {
      this.decideNow(conn, message, undefined);
      return;
    }
    const choices = this.options.agentChoices;
    if (!choices) {
      this.sendError(conn, ERROR_CODES.invalidMessage, 'agentChoice: this server takes no agent choices', ref, message.requestId);
      return;
    }
    // The choice is checked against the request's offer (context.agentChoices): an
    // unresolved request's from memory, in this step, so the decision keeps its place in
    // line; any other is refused by the broker anyway, and its stored view says why.
    const check = (context: unknown) => {
      const attempt = this.choiceAttempt(conn, message);
      const refusal = choices.check(attempt, context);
      if (refusal) {
        this.sendError(conn, ERROR_CODES.invalidMessage, refusal, ref, message.requestId);
        return;
      }
      this.decideNow(conn, message, choices.choiceOf(attempt, context));
    };
    const live = this.host.unresolvedContext(message.requestId);
    if (live !== undefined) {
      check(live);
      return;
    }
    this.store.getRequest(message.requestId).then(
      (view) => check(view?.context),
      (error: unknown) => this.decisionFailed(conn, error, ref, message.requestId),
    );
  }

  /** A device socket's decision on a shared store: decided only once the store says the
   *  device still exists (it may have been ended on another instance, whose notice or
   *  poll has not closed this socket yet). The checks of one socket form a chain, so its
   *  decisions reach the host in the order they arrived; other sockets never wait. */
  private decideIfDevice(conn: ClientConnection, deviceId: string, message: PermissionResponse, gate: DeviceGate): void {
    const ref = message.clientMsgId;
    if (conn.gatedCount >= MAX_GATED_DECISIONS) {
      this.sendError(conn, ERROR_CODES.rateLimited, 'too many decisions waiting: send it again later', ref, message.requestId);
      return;
    }
    conn.gatedCount += 1;
    // Asked now, so the read starts after this frame arrived (not when the chain reaches it).
    const checked = gate(deviceId);
    // Handled below, once the earlier decisions are through; marked handled now so a
    // failure while they wait is not reported as an unhandled rejection.
    checked.catch(() => {});
    conn.gated = conn.gated
      .then(() => checked)
      .then(
        (exists) => {
          // Closed meanwhile (the device's notice, the watch, or the client went): the
          // decision is dropped like a frame after the close; a client sends an
          // unanswered decision again after reconnecting (its clientMsgId keeps it once).
          if (conn.closed) return;
          if (!exists) {
            this.logger.info('decision refused: device ended', { id: deviceId, client: conn.id });
            this.sendError(
              conn,
              ERROR_CODES.unauthorized,
              'this device was ended: nothing was decided (open the printed URL or a pairing link again)',
              ref,
              message.requestId,
            );
            this.closeDevice(deviceId);
            return;
          }
          this.decide(conn, message);
        },
        // The store did not answer: nothing is decided (fail closed); the client may send it again.
        (error: unknown) => {
          if (!conn.closed) this.decisionFailed(conn, error, ref, message.requestId);
        },
      )
      .finally(() => {
        conn.gatedCount -= 1;
      });
  }

  private choiceAttempt(conn: ClientConnection, message: PermissionResponse): ChoiceAttempt {
    return {
      requestId: message.requestId,
      decision: message.decision,
      decidedBy: conn.label,
      ...(message.agentChoice !== undefined ? { agentChoice: message.agentChoice } : {}),
      hasRemember: message.remember !== undefined,
      hasUpdatedInput: message.updatedInput !== undefined,
    };
  }

  /** Writes the attempt down and decides, in one synchronous step (agentChoiceBook.ts). */
  private decideNow(conn: ClientConnection, message: PermissionResponse, chosen: AgentChoice | undefined): void {
    const ref = message.clientMsgId;
    const choices = this.options.agentChoices;
    let pending: Promise<DecideResult>;
    let recorded: object | undefined;
    try {
      recorded = choices?.record(this.choiceAttempt(conn, message), this.host.unresolvedContext(message.requestId));
      pending = this.host.decide({
        requestId: message.requestId,
        decision: message.decision,
        decidedBy: conn.label,
        via: 'ws',
        // For the audit row, written with the decision (SPEC.md CORE-L2).
        ...(conn.params.address ? { address: conn.params.address } : {}),
        ...(conn.params.device ? { device: { id: conn.params.device.id, name: conn.params.device.name } } : {}),
        ...(message.updatedInput !== undefined ? { updatedInput: message.updatedInput } : {}),
        ...(message.message !== undefined ? { message: message.message } : {}),
        ...(ref !== undefined ? { clientMsgId: ref } : {}),
        ...(message.remember !== undefined ? { remember: message.remember } : {}),
        ...(chosen ? { agentChoice: { id: chosen.id, kind: chosen.kind, label: chosen.label } } : {}),
      });
    } catch (error) {
      choices?.forget(message.requestId, recorded);
      this.decisionFailed(conn, error, ref, message.requestId);
      return;
    }
    pending.then(
      ({ answer, remember, replayed }) => {
        // A replayed clientMsgId decided nothing now: this attempt is not the winner's.
        if (replayed) choices?.forget(message.requestId, recorded);
        if (answer.status === 'accepted') {
          conn.send({
            type: 'ack',
            ...(ref !== undefined ? { ref } : {}),
            requestId: answer.requestId,
            status: 'accepted',
            ...(remember ? { remember } : {}),
          });
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
        choices?.forget(message.requestId, recorded);
        this.decisionFailed(conn, error, ref, message.requestId);
      },
    );
  }

  private decisionFailed(conn: ClientConnection, error: unknown, ref: string | undefined, requestId: string): void {
    if (error instanceof RememberRefusedError) {
      // A `remember` that cannot be honoured: nothing was decided.
      this.sendError(conn, ERROR_CODES.invalidMessage, error.message, ref, requestId);
      return;
    }
    const stopping = error instanceof HostStoppedError;
    this.sendError(conn, ERROR_CODES.internal, stopping ? 'the server is stopping: send it again after reconnecting' : 'internal error', ref, requestId);
    if (!stopping) this.logger.error('decision failed', { error: String(error) });
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

  /** The devices that have an open socket here (the revocation watch, deviceWatch.ts). */
  connectedDevices(): string[] {
    const ids = new Set<string>();
    for (const conn of this.clients) if (conn.params.device) ids.add(conn.params.device.id);
    return [...ids];
  }

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
