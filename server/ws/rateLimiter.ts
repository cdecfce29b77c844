/**
 * Per-connection rate limit (protocol-v1.md §2): a token bucket that never trips below
 * 1,000 frames per second. Refused frames within one-second windows are counted; a client
 * that keeps going after being refused (more refused frames in a window than the rate
 * itself) has broken the rules too often and is closed with 1008. Time is an input.
 */

export type RateVerdict = 'ok' | 'limited' | 'limited-first' | 'abuse';

export type RateLimiterOptions = {
  /** Frames per second (refill), and the burst size. */
  ratePerSecond: number;
  burst?: number;
  /** Refused frames in one window that count as abuse. Default: ratePerSecond. */
  abuseThreshold?: number;
  now?: () => number;
};

export class RateLimiter {
  private tokens: number;
  private last: number;
  private windowStart: number;
  private refusedInWindow = 0;
  private readonly rate: number;
  private readonly burst: number;
  private readonly abuse: number;
  private readonly now: () => number;

  constructor(options: RateLimiterOptions) {
    this.rate = options.ratePerSecond;
    this.burst = options.burst ?? options.ratePerSecond;
    this.abuse = options.abuseThreshold ?? options.ratePerSecond;
    this.now = options.now ?? (() => performance.now());
    this.tokens = this.burst;
    this.last = this.now();
    this.windowStart = this.last;
  }

  /** One frame arrives. `limited-first`: the first refusal of a window (say so once). */
  take(): RateVerdict {
    const now = this.now();
    const elapsed = Math.max(0, now - this.last);
    this.last = now;
    this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.rate) / 1000);
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.refusedInWindow = 0;
    }
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 'ok';
    }
    this.refusedInWindow += 1;
    if (this.refusedInWindow > this.abuse) return 'abuse';
    return this.refusedInWindow === 1 ? 'limited-first' : 'limited';
  }
}

/** Counts events in a sliding fixed window: "too many invalid frames lately". */
export class StrikeCounter {
  private count = 0;
  private windowStart: number;
  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.windowStart = this.now();
  }
  /** true when this strike passes the limit. */
  strike(): boolean {
    const now = this.now();
    if (now - this.windowStart >= this.windowMs) {
      this.windowStart = now;
      this.count = 0;
    }
    this.count += 1;
    return this.count > this.limit;
  }
}
