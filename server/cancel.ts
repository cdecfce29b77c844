/**
 * "Stop waiting" for the long-polls without an AbortController (SPEC.md CORE-F15).
 *
 * A create-and-wait needed two AbortControllers (the client went away; the wait is
 * released on every exit, CORE-B4), and releasing one with `abort()` builds a
 * DOMException with its stack trace and dispatches a DOM Event through an EventTarget:
 * together about 45 µs of server CPU per keep-alive round trip (BENCHMARKS.md, "HTTP
 * agents: the floor and the whole machine"). `Cancel` is the part of an AbortSignal the waits use (`aborted`, an `abort`
 * listener added once and removed), so an AbortSignal is still accepted wherever a
 * `CancelSignal` is; `Cancel` itself is a flag and a short list of callbacks.
 */

/** What a wait reads of an AbortSignal; an AbortSignal is one. */
export type CancelSignal = {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
};

export class Cancel implements CancelSignal {
  private done = false;
  private listeners: Array<() => void> = [];

  get aborted(): boolean {
    return this.done;
  }

  /** Every listener is called once, as an AbortSignal's `once` listeners are. */
  addEventListener(_type: 'abort', listener: () => void): void {
    if (!this.done) this.listeners.push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const at = this.listeners.indexOf(listener);
    if (at >= 0) this.listeners.splice(at, 1);
  }

  /** Idempotent: the second call does nothing. A listener that throws does not keep the
   *  others from running (it is reported as an uncaught exception, as EventTarget does). */
  cancel(): void {
    if (this.done) return;
    this.done = true;
    const listeners = this.listeners;
    this.listeners = [];
    for (const listener of listeners) {
      try {
        listener();
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
