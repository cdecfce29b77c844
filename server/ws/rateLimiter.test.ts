import { describe, expect, it } from 'vitest';
import { DEFAULTS } from '../config.ts';
import { RateLimiter, StrikeCounter } from './rateLimiter.ts';

describe('RateLimiter', () => {
  it('WS-14: never trips below 1,000 frames per second, sustained', () => {
    let now = 0;
    const limiter = new RateLimiter({ ratePerSecond: DEFAULTS.minRateLimit, now: () => now });
    // 10 seconds at exactly 1,000 frames per second, evenly spaced.
    for (let i = 0; i < 10_000; i++) {
      now = i; // one frame per ms
      expect(limiter.take()).toBe('ok');
    }
  });

  it('WS-14: a burst beyond the bucket is refused, said once per window, and abuse is flagged', () => {
    let now = 0;
    const limiter = new RateLimiter({ ratePerSecond: 1_000, now: () => now });
    for (let i = 0; i < 1_000; i++) expect(limiter.take()).toBe('ok');
    expect(limiter.take()).toBe('limited-first');
    expect(limiter.take()).toBe('limited');
    for (let i = 0; i < 998; i++) limiter.take();
    expect(limiter.take()).toBe('abuse');
    now = 2_000; // refilled, new window
    expect(limiter.take()).toBe('ok');
  });
});

describe('StrikeCounter', () => {
  it('WS-13: passes the limit only within one window', () => {
    let now = 0;
    const counter = new StrikeCounter(2, 1_000, () => now);
    expect(counter.strike()).toBe(false);
    expect(counter.strike()).toBe(false);
    expect(counter.strike()).toBe(true);
    now = 1_000;
    expect(counter.strike()).toBe(false);
  });
});
