/**
 * A WebSocket client for the validation commands: every frame it receives goes through a
 * StreamChecker, then to the caller's handler. It acks cumulatively (at most every
 * `ackEveryMs`), can reconnect with `since` + `epoch`, and can injure its own input on
 * purpose (`fault`) so that a run shows the checks really fail:
 *   drop-event       one outcome event is lost before the checker sees it
 *   duplicate-event  one event is delivered twice
 *   reorder-events   two consecutive events are swapped
 * Plain JavaScript: used by `node scripts/test-permission-ordering.js`.
 */
import WebSocket from 'ws';
import { StreamChecker, isSequenced } from './streamCheck.js';

export const CLIENT_FAULTS = ['drop-event', 'duplicate-event', 'reorder-events'];

export class CheckedClient {
  /**
   * @param {object} options
   * @param {string} options.label   decidedBy of this client's decisions
   * @param {(params: Record<string, string|number|undefined>) => string} options.url ws URL builder
   * @param {(frame: any, client: CheckedClient) => void} [options.onFrame]
   * @param {string} [options.fault] one of CLIENT_FAULTS (only this client injures its input)
   * @param {number} [options.faultAfter] how many sequenced events pass before the fault
   * @param {number} [options.ackEveryMs] 0: never ack on its own (the caller sends acks)
   */
  constructor(options) {
    this.label = options.label;
    this.urlFor = options.url;
    this.onFrameHandler = options.onFrame ?? (() => {});
    this.fault = options.fault;
    this.faultAfter = options.faultAfter ?? 10;
    this.faultDone = false;
    this.held = undefined;
    this.ackEveryMs = options.ackEveryMs ?? 25;
    this.checker = new StreamChecker(options.label);
    this.ws = undefined;
    this.welcome = undefined;
    this.lastAcked = 0;
    this.framesIn = 0;
    this.errors = [];
    this.waiters = new Set();
    this.ackTimer = undefined;
    this.closedInfo = undefined;
  }

  /** Connect (resuming from what the checker holds when `resume`); resolves after the welcome. */
  connect({ resume = false } = {}) {
    const params = { label: this.label };
    if (resume && this.checker.canResume) Object.assign(params, { since: this.checker.lastSeq, epoch: this.checker.epoch });
    const ws = new WebSocket(this.urlFor(params), { perMessageDeflate: false });
    this.ws = ws;
    this.closedInfo = undefined;
    this.checker.connectionOpened();
    let gotWelcome;
    const welcome = new Promise((resolve, reject) => {
      gotWelcome = resolve;
      ws.once('error', reject);
      ws.once('close', (code) => reject(new Error(`${this.label}: closed (${code}) before the welcome`)));
    });
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        this.checker.violation('a binary frame from the server');
        return;
      }
      let frame;
      try {
        frame = JSON.parse(data.toString());
      } catch {
        this.checker.violation(`a frame that is not JSON: ${data.toString().slice(0, 80)}`);
        return;
      }
      this.framesIn += 1;
      if (frame.type === 'welcome') {
        this.welcome = frame;
        gotWelcome(frame);
      }
      for (const f of this.injure(frame)) this.deliver(f);
    });
    ws.on('close', (code, reason) => {
      this.closedInfo = { code, reason: reason.toString() };
      this.notify();
    });
    ws.on('error', () => {});
    if (!this.ackTimer && this.ackEveryMs > 0) {
      this.ackTimer = setInterval(() => this.ackNow(), this.ackEveryMs);
      this.ackTimer.unref?.();
    }
    return welcome;
  }

  /** The fault, if any: returns the frames to deliver in place of `frame`. */
  injure(frame) {
    if (!this.fault || this.faultDone || !isSequenced(frame)) return this.flushHeld(frame);
    if (this.checker.sequencedCount < this.faultAfter) return [frame];
    switch (this.fault) {
      case 'drop-event':
        // Lose an outcome (never a request, so no decision waits on it and the run ends).
        if (frame.type === 'permission-request') return [frame];
        this.faultDone = true;
        return [];
      case 'duplicate-event':
        this.faultDone = true;
        return [frame, frame];
      case 'reorder-events':
        if (this.held === undefined) {
          this.held = frame;
          return [];
        }
        this.faultDone = true;
        return this.flushHeld(frame, true);
      default:
        throw new Error(`unknown client fault ${this.fault}`);
    }
  }

  flushHeld(frame, swap = false) {
    if (this.held === undefined) return [frame];
    const held = this.held;
    this.held = undefined;
    return swap ? [frame, held] : [held, frame];
  }

  deliver(frame) {
    this.checker.frame(frame);
    if (frame.type === 'error' && frame.ref === undefined) this.errors.push(frame);
    this.onFrameHandler(frame, this);
    this.notify();
  }

  ackNow() {
    const seq = this.checker.lastSeq;
    if (seq > this.lastAcked && this.ws?.readyState === WebSocket.OPEN) {
      this.lastAcked = seq;
      this.ws.send(JSON.stringify({ type: 'ack', seq }));
    }
  }

  send(message) {
    if (this.ws?.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  notify() {
    for (const check of [...this.waiters]) check();
  }

  /** Resolves when `predicate()` holds (checked after every frame), rejects after `timeoutMs`. */
  until(predicate, timeoutMs, what = 'a condition') {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`${this.label}: ${what} not reached within ${timeoutMs} ms (holds seq ${this.checker.lastSeq})`));
      }, timeoutMs);
      const check = () => {
        if (!predicate()) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      this.waiters.add(check);
    });
  }

  /** Drop the connection abruptly (no close frame). */
  terminate() {
    this.ws?.terminate();
  }

  close() {
    if (this.ackTimer) clearInterval(this.ackTimer);
    this.ackTimer = undefined;
    if (this.ws && this.ws.readyState !== WebSocket.CLOSED) this.ws.terminate();
  }
}
