/**
 * Test helper for the cluster suite (SPEC.md TEAM-C1): a WebSocket client that behaves as
 * a real one across instances. It keeps the events it holds over every socket it opens,
 * acks each one, resumes with `since` and `epoch` on whichever instance is alive (a
 * different one when it can), decides some requests with a `clientMsgId` and sends an
 * unanswered one again after a reconnect. It never repairs what it receives: a gap, a
 * duplicate, a refused resume or a changed answer is written down as a violation for the
 * test to report.
 */
import WebSocket from 'ws';
import type { Cluster, ClusterInstance } from './cluster.ts';
import type { Random } from './random.ts';
import { type Frame, isSequencedEvent } from './wsClient.ts';

export type Connection = { instance: string; since: number | undefined; resumed: boolean; head: number; epoch: string };

export type Answer = { status: 'accepted' } | { status: 'rejected'; code: string; decision?: string; message: string };

export type DecisionAttempt = { requestId: string; clientMsgId: string; decision: 'allow' | 'deny'; sends: number; answer?: Answer };

export type ClusterClientOptions = {
  label: string;
  cluster: Cluster;
  rng: Random;
  /** Chance of deciding a request it sees unresolved. */
  decideChance: number;
  /** Chance of dropping the socket after an event. */
  dropChance: number;
  /** Chance of dropping the socket right after sending a decision (before its answer). */
  dropAfterDecideChance: number;
  /** Which requests it may decide at all (default: every one). */
  mayDecide?: (request: Frame) => boolean;
};

const OUTCOMES = new Set(['permission-resolved', 'permission-timeout', 'permission-cancelled']);

export class ClusterClient {
  readonly label: string;
  /** Every sequenced event held, in the order received (across sockets). */
  readonly events: Frame[] = [];
  readonly connections: Connection[] = [];
  readonly violations: string[] = [];
  readonly attempts = new Map<string, DecisionAttempt>();
  /** The seq of the snapshot it started from (0 on an empty log). */
  base: number | undefined;
  epoch: string | undefined;
  /** The last seq held (the snapshot's head before any event). */
  lastSeq: number | undefined;
  drops = 0;
  private readonly byRef = new Map<string, DecisionAttempt>();
  private readonly finished = new Set<string>();
  private socket: WebSocket | undefined;
  private current: ClusterInstance | undefined;
  private stopped = false;
  private readonly waiters = new Set<() => void>();
  /** The reconnect under way (awaited by `settled`). */
  private reconnecting: Promise<void> = Promise.resolve();

  constructor(private readonly options: ClusterClientOptions) {
    this.label = options.label;
  }

  get instance(): string | undefined {
    return this.current?.name;
  }

  /** Opens a socket on `target` (or, when it is down, another live instance). */
  async connect(target?: ClusterInstance): Promise<void> {
    const { cluster, rng } = this.options;
    let lastError: unknown;
    for (let attempt = 0; attempt < 20; attempt++) {
      const live = cluster.live();
      if (live.length === 0) throw new Error(`${this.label}: no live instance to connect to`);
      const others = live.filter((i) => i !== this.current);
      const instance = attempt === 0 && target?.alive ? target : rng.pick(others.length > 0 ? others : live);
      try {
        await this.open(instance);
        return;
      } catch (error) {
        lastError = error; // refused (killed or restarting): the next live one
      }
    }
    throw new Error(`${this.label}: could not connect to any instance in 20 attempts: ${(lastError as Error)?.message}`);
  }

  /** Drops the socket and resumes on `target` (the test moves a client on purpose). */
  moveTo(target: ClusterInstance): Promise<void> {
    const old = this.socket;
    this.socket = undefined;
    old?.terminate();
    this.reconnecting = this.reconnecting.catch(() => {}).then(() => this.connect(target));
    return this.reconnecting;
  }

  /** Resolves once the client holds every event up to `seq`. */
  waitForSeq(seq: number, timeoutMs: number): Promise<void> {
    return this.waitUntil(
      () => (this.lastSeq ?? -1) >= seq,
      timeoutMs,
      () => `holds up to seq ${this.lastSeq}, not ${seq}`,
    );
  }

  /** Resolves once it holds an event matching `predicate`. */
  waitForEvent(predicate: (event: Frame) => boolean, timeoutMs: number): Promise<void> {
    return this.waitUntil(
      () => this.events.some(predicate),
      timeoutMs,
      () => 'holds no matching event',
    );
  }

  /** Resolves once every decision it sent has its answer. */
  waitForAnswers(timeoutMs: number): Promise<void> {
    const open = () => [...this.attempts.values()].filter((a) => a.answer === undefined);
    return this.waitUntil(
      () => open().length === 0,
      timeoutMs,
      () =>
        `has no answer for ${open()
          .map((a) => a.requestId)
          .join(', ')}`,
    );
  }

  private waitUntil(done: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`${this.label} (on ${this.instance}) ${what()} after ${timeoutMs} ms`));
      }, timeoutMs);
      const check = () => {
        if (!done()) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      this.waiters.add(check);
    });
  }

  /** Waits for a reconnect under way, so `stop` does not race it. */
  settled(): Promise<void> {
    return this.reconnecting;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.reconnecting.catch(() => {});
    const ws = this.socket;
    this.socket = undefined;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      ws.once('close', () => resolve());
      ws.terminate();
    });
  }

  private open(instance: ClusterInstance): Promise<void> {
    const since = this.epoch !== undefined ? this.lastSeq : undefined;
    const params = { label: this.label, ...(since !== undefined ? { since, epoch: this.epoch } : {}) };
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(instance.server.wsUrl(params));
      let welcomed = false;
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error(`${this.label}: no welcome from ${instance.name} within 5 s`));
      }, 5_000);
      ws.on('error', () => {
        // reported by 'close'
      });
      ws.on('message', (data) => {
        let frame: Frame;
        try {
          frame = JSON.parse(String(data));
        } catch {
          this.violations.push(`${this.label}: a frame that is not JSON from ${instance.name}`);
          return;
        }
        if (!welcomed) {
          welcomed = true;
          clearTimeout(timer);
          this.socket = ws;
          this.current = instance;
          this.onWelcome(frame, instance, since);
          resolve();
          return;
        }
        // A socket this client dropped says nothing more (its frames may still be queued).
        if (this.socket === ws && ws.readyState === WebSocket.OPEN) this.onFrame(frame);
      });
      ws.on('close', () => {
        clearTimeout(timer);
        if (!welcomed) {
          reject(new Error(`${this.label}: ${instance.name} closed before the welcome`));
          return;
        }
        if (this.socket !== ws || this.stopped) return;
        // Dropped by the server or killed with its instance: resume elsewhere.
        this.socket = undefined;
        this.reconnecting = this.reconnecting.catch(() => {}).then(() => this.connect());
        this.reconnecting.catch((error: Error) => this.violations.push(error.message));
      });
    });
  }

  private onWelcome(frame: Frame, instance: ClusterInstance, since: number | undefined): void {
    if (frame.type !== 'welcome') {
      this.violations.push(`${this.label}: first frame from ${instance.name} is ${frame.type}, not welcome`);
      return;
    }
    this.connections.push({ instance: instance.name, since, resumed: frame.resumed === true, head: frame.seq, epoch: frame.epoch });
    if (this.epoch !== undefined && frame.epoch !== this.epoch)
      this.violations.push(`${this.label}: ${instance.name} has epoch ${frame.epoch}, the client held ${this.epoch}`);
    // The history is kept (10,000 events by default): every resume must be honoured.
    if (since !== undefined && frame.resumed !== true)
      this.violations.push(`${this.label}: ${instance.name} refused to resume from seq ${since} (head ${frame.seq})`);
    this.epoch = frame.epoch;
    // A decision whose answer was lost with the socket goes again, with its clientMsgId.
    for (const attempt of this.attempts.values()) if (attempt.answer === undefined) this.sendDecision(attempt);
  }

  private onFrame(frame: Frame): void {
    if (frame.type === 'snapshot' || frame.type === 'snapshot-part') {
      if (frame.type === 'snapshot') {
        if (this.lastSeq !== undefined) this.violations.push(`${this.label}: a snapshot (head ${frame.seq}) after holding seq ${this.lastSeq}`);
        this.base ??= frame.seq;
        this.lastSeq = frame.seq;
      }
      for (const request of (frame.requests ?? []) as Frame[]) this.maybeDecide(request);
      this.notify();
      return;
    }
    if (isSequencedEvent(frame)) {
      this.onEvent(frame);
      return;
    }
    if ((frame.type === 'ack' || frame.type === 'error') && typeof frame.ref === 'string') {
      const attempt = this.byRef.get(frame.ref);
      if (!attempt) {
        this.violations.push(`${this.label}: an answer for a clientMsgId it never sent: ${JSON.stringify(frame)}`);
        return;
      }
      const answer: Answer =
        frame.type === 'ack'
          ? { status: 'accepted' }
          : { status: 'rejected', code: frame.code, message: frame.message, ...(frame.decision !== undefined ? { decision: frame.decision } : {}) };
      // `internal` while the instance stops: nothing was decided, the resend asks again.
      if (answer.status === 'rejected' && answer.code === 'internal') return;
      if (attempt.answer !== undefined && JSON.stringify(attempt.answer) !== JSON.stringify(answer))
        this.violations.push(`${this.label}: clientMsgId ${frame.ref} answered ${JSON.stringify(attempt.answer)}, then ${JSON.stringify(answer)}`);
      attempt.answer ??= answer;
      this.notify();
    }
  }

  private onEvent(frame: Frame): void {
    const last = this.lastSeq ?? 0;
    if (frame.seq !== last + 1) {
      this.violations.push(`${this.label} on ${this.instance}: seq ${frame.seq} after ${last} (${frame.seq <= last ? 'a duplicate' : 'a gap'})`);
      if (frame.seq <= last) return;
    }
    this.events.push(frame);
    this.lastSeq = frame.seq;
    this.socket?.send(JSON.stringify({ type: 'ack', seq: frame.seq }));
    if (frame.type === 'permission-request') this.maybeDecide(frame);
    else if (OUTCOMES.has(frame.type)) this.finished.add(frame.requestId);
    this.notify();
    if (this.options.rng.chance(this.options.dropChance)) this.drop();
  }

  private maybeDecide(request: Frame): void {
    const { rng } = this.options;
    const requestId = request.id as string;
    if (this.finished.has(requestId) || this.attempts.has(requestId)) return;
    if (this.options.mayDecide && !this.options.mayDecide(request)) return;
    if (!rng.chance(this.options.decideChance)) return;
    const attempt: DecisionAttempt = { requestId, clientMsgId: rng.uuid(), decision: rng.chance(0.5) ? 'allow' : 'deny', sends: 0 };
    this.attempts.set(requestId, attempt);
    this.byRef.set(attempt.clientMsgId, attempt);
    this.sendDecision(attempt);
    if (rng.chance(this.options.dropAfterDecideChance)) this.drop();
  }

  private sendDecision(attempt: DecisionAttempt): void {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return;
    attempt.sends++;
    this.socket.send(
      JSON.stringify({ type: 'permission-response', requestId: attempt.requestId, decision: attempt.decision, clientMsgId: attempt.clientMsgId }),
    );
  }

  /** An abrupt end (no close frame), as a lost network does; 'close' resumes elsewhere. */
  private drop(): void {
    this.drops++;
    this.socket?.terminate();
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}
