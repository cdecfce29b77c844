/**
 * The stream checker shared by the validation commands and the chaos suite: fed every
 * frame one client receives (across its reconnects), it checks the contract's ordering
 * rules as they arrive and remembers what it saw, so a run can then be compared with
 * what the agents were told.
 *
 * Checked per client (protocol-v1.md §3): the first frame of each connection is
 * `welcome`; a connection that is not resumed gets `snapshot` next (with `more: true`,
 * then `snapshot-part` frames until one has `more: false`, contract-2 §3); sequenced events
 * follow gapless, each seq exactly one more than the last (from the welcome's head, or
 * from `since` on a resume); a request's `permission-request` comes before its outcome;
 * a request has one `permission-request` and at most one outcome event.
 *
 * Plain JavaScript (with a .d.ts beside it) because `node scripts/test-permission-ordering.js`
 * must run on Node 20 without a loader.
 */

export const OUTCOME_TYPES = new Set(['permission-resolved', 'permission-timeout', 'permission-cancelled']);
const STATUS_OF_OUTCOME = { 'permission-resolved': 'resolved', 'permission-timeout': 'timedOut', 'permission-cancelled': 'cancelled' };

/** A frame that carries a place in the stream (welcome and snapshot carry the head, not a place). */
export function isSequenced(frame) {
  return typeof frame?.seq === 'number' && frame.type !== 'welcome' && frame.type !== 'snapshot' && frame.type !== 'snapshot-part';
}

export class StreamChecker {
  /** @param {string} name used in every violation message */
  constructor(name, { maxViolations = 50 } = {}) {
    this.name = name;
    this.maxViolations = maxViolations;
    /** @type {string[]} */
    this.violations = [];
    this.violationCount = 0;
    this.epoch = undefined;
    /** The seq the next sequenced event must carry (undefined until welcome/snapshot). */
    this.nextSeq = undefined;
    /** The highest seq this client holds (what it would resume from). */
    this.lastSeq = 0;
    this.awaitingWelcome = true;
    this.awaitingSnapshot = false;
    /** After a `snapshot` with `more: true`: parts still owed. */
    this.awaitingParts = false;
    /** Request ids of the snapshot being received, to catch one listed twice. */
    this.snapshotIds = new Set();
    /** False from a welcome with resumed:false until its whole snapshot is in (across reconnects). */
    this.wholeView = true;
    this.connections = 0;
    this.sequencedCount = 0;
    /** @type {Map<string, {seq: number, fromSnapshot: boolean, frame: any}>} */
    this.requests = new Map();
    /** @type {Map<string, any>} requestId -> its outcome event */
    this.outcomes = new Map();
    /** Every sequenced event received, by type. */
    this.countsByType = new Map();
  }

  violation(text) {
    this.violationCount += 1;
    if (this.violations.length < this.maxViolations) this.violations.push(`${this.name}: ${text}`);
  }

  /** Holds a whole view to resume from: an epoch, and no snapshot (or part) still owed.
   *  A connection cut mid-snapshot must start afresh, or it would skip what it never got. */
  get canResume() {
    return this.epoch !== undefined && this.wholeView;
  }

  /** A new connection of this client begins: its first frame must be `welcome`. */
  connectionOpened() {
    this.awaitingWelcome = true;
    this.awaitingSnapshot = false;
    this.awaitingParts = false;
    this.connections += 1;
  }

  /** Feed one parsed frame, in arrival order. */
  frame(frame) {
    if (this.awaitingWelcome) {
      if (frame?.type !== 'welcome') {
        this.violation(`first frame of connection ${this.connections} is ${JSON.stringify(frame?.type)}, not welcome`);
        return;
      }
      this.onWelcome(frame);
      return;
    }
    if (frame?.type === 'welcome') {
      this.violation('a second welcome on one connection');
      return;
    }
    if (frame?.type === 'snapshot') {
      if (!this.awaitingSnapshot) this.violation('a snapshot that did not follow a welcome with resumed:false');
      this.onSnapshot(frame);
      return;
    }
    if (frame?.type === 'snapshot-part') {
      if (!this.awaitingParts) this.violation('a snapshot-part that did not follow a snapshot with more:true');
      this.onSnapshotPart(frame);
      return;
    }
    if ((this.awaitingSnapshot || this.awaitingParts) && isSequenced(frame)) {
      this.violation(`event seq ${frame.seq} before the ${this.awaitingParts ? 'last snapshot-part' : 'snapshot'}`);
      this.awaitingSnapshot = false;
      this.awaitingParts = false;
    }
    if (!isSequenced(frame)) return;
    this.onEvent(frame);
  }

  onWelcome(welcome) {
    this.awaitingWelcome = false;
    if (welcome.resumed) {
      if (this.epoch !== welcome.epoch) this.violation(`resumed in epoch ${welcome.epoch}, but this client held epoch ${this.epoch}`);
      if (welcome.seq < this.lastSeq) this.violation(`resumed with head ${welcome.seq} below the seq held (${this.lastSeq})`);
      this.nextSeq = this.lastSeq + 1;
      return;
    }
    if (this.epoch !== undefined && this.epoch !== welcome.epoch) {
      // History was lost: the client drops what it holds (protocol-v1.md §3).
      this.requests.clear();
      this.outcomes.clear();
    }
    this.epoch = welcome.epoch;
    this.awaitingSnapshot = true;
    this.wholeView = false;
    this.nextSeq = undefined;
  }

  onSnapshot(snapshot) {
    this.awaitingSnapshot = false;
    this.awaitingParts = snapshot.more === true;
    this.wholeView = !this.awaitingParts;
    this.snapshotIds = new Set();
    if (typeof snapshot.seq !== 'number') this.violation('snapshot without a numeric seq');
    this.nextSeq = snapshot.seq + 1;
    this.lastSeq = snapshot.seq;
    this.snapshotRequests(snapshot.requests);
  }

  onSnapshotPart(part) {
    if (typeof part.more !== 'boolean') this.violation('snapshot-part without a boolean more');
    this.awaitingParts = part.more === true;
    if (!this.awaitingParts) this.wholeView = true;
    this.snapshotRequests(part.requests);
  }

  snapshotRequests(requests) {
    for (const request of requests ?? []) {
      if (this.snapshotIds.has(request.id)) this.violation(`snapshot lists ${request.id} twice`);
      this.snapshotIds.add(request.id);
      if (this.outcomes.has(request.id)) this.violation(`snapshot lists ${request.id} as unresolved after its outcome`);
      if (!this.requests.has(request.id)) this.requests.set(request.id, { seq: request.seq, fromSnapshot: true, frame: request });
    }
  }

  onEvent(event) {
    this.sequencedCount += 1;
    this.countsByType.set(event.type, (this.countsByType.get(event.type) ?? 0) + 1);
    if (this.nextSeq === undefined) {
      this.violation(`event seq ${event.seq} before any welcome/snapshot`);
      this.nextSeq = event.seq;
    }
    if (event.seq !== this.nextSeq) {
      if (event.seq < this.nextSeq) this.violation(`seq ${event.seq} (${event.type}) after ${this.nextSeq - 1}: a duplicate or out of order`);
      else this.violation(`gap: expected seq ${this.nextSeq}, got ${event.seq} (${event.type}); ${event.seq - this.nextSeq} event(s) missing`);
    }
    if (event.seq >= this.nextSeq) this.nextSeq = event.seq + 1;
    if (event.seq > this.lastSeq) this.lastSeq = event.seq;

    if (event.type === 'permission-request') {
      const known = this.requests.get(event.id);
      if (known && !known.fromSnapshot) this.violation(`permission-request ${event.id} received twice (seq ${known.seq} and ${event.seq})`);
      else if (known && known.seq !== event.seq) this.violation(`permission-request ${event.id} has seq ${event.seq}, the snapshot said ${known.seq}`);
      this.requests.set(event.id, { seq: event.seq, fromSnapshot: false, frame: event });
      if (this.outcomes.has(event.id)) this.violation(`permission-request ${event.id} after its outcome`);
    } else if (OUTCOME_TYPES.has(event.type)) {
      const id = event.requestId;
      const request = this.requests.get(id);
      if (!request) this.violation(`${event.type} for ${id} (seq ${event.seq}) before its permission-request`);
      else if (request.seq >= event.seq) this.violation(`${event.type} for ${id} has seq ${event.seq}, not after its request's ${request.seq}`);
      const earlier = this.outcomes.get(id);
      if (earlier) this.violation(`a second outcome for ${id}: ${earlier.type} (seq ${earlier.seq}) then ${event.type} (seq ${event.seq})`);
      else this.outcomes.set(id, event);
    }
  }

  /**
   * Compare with what the agents were told: every request was seen once, with exactly one
   * outcome matching its final status (and decision).
   * @param {Map<string, {status: string, decision?: string}>} finals requestId -> final state
   */
  checkOutcomes(finals) {
    for (const [id, final] of finals) {
      if (!this.requests.has(id)) {
        this.violation(`never received the permission-request of ${id}`);
        continue;
      }
      const outcome = this.outcomes.get(id);
      if (!outcome) {
        if (final.status !== 'pending') this.violation(`no outcome event for ${id} (the agent was told ${final.status})`);
        continue;
      }
      const status = STATUS_OF_OUTCOME[outcome.type];
      if (status !== final.status) this.violation(`${id}: saw ${outcome.type}, the agent was told ${final.status}`);
      else if (status === 'resolved' && final.decision !== undefined && outcome.decision !== final.decision) {
        this.violation(`${id}: saw decision ${outcome.decision}, the agent was told ${final.decision}`);
      }
    }
  }
}

/** The value at quantile q (0..1) of an array of numbers (sorted here, nearest rank). */
export function quantile(values, q) {
  if (values.length === 0) return NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank];
}

/** "p50 1.23 ms, p99 4.56 ms, max 7.89 ms (n=123)" */
export function describeLatencies(values) {
  if (values.length === 0) return 'n=0';
  const f = (v) => `${v.toFixed(2)} ms`;
  return `p50 ${f(quantile(values, 0.5))}, p99 ${f(quantile(values, 0.99))}, max ${f(quantile(values, 1))} (n=${values.length})`;
}
