/** The queue reducer on its own: order, snapshot merge, history cap, descriptions. */
import { describe, expect, it } from 'vitest';
import type { PermissionRequestEvent } from '../protocol/index.ts';
import { HISTORY_LIMIT, applyEvent, applySnapshot, decide, describeOutcome, emptyQueue, flushOutbox } from './queue.ts';

const req = (seq: number, id: string): PermissionRequestEvent => ({
  type: 'permission-request',
  seq,
  id,
  toolName: 'Bash',
  input: { command: id },
  context: {},
  timestamp: seq,
  expiresAt: 10_000,
});

describe('queue reducer', () => {
  it('UI-1: requests are kept oldest first, whatever order they arrive in', () => {
    let s = emptyQueue();
    s = applyEvent(s, req(3, 'c'));
    s = applyEvent(s, req(1, 'a'));
    s = applyEvent(s, req(2, 'b'));
    expect(s.order).toEqual(['a', 'b', 'c']);
  });

  it("UI-7: a snapshot keeps this window's pending decision on requests that still stand", () => {
    let s = applyEvent(emptyQueue(), req(1, 'a'));
    const d = decide(s, { requestId: 'a', decision: 'allow', clientMsgId: 'm' }, false);
    if (!d.ok) throw new Error(d.reason);
    s = applySnapshot(d.state, { type: 'snapshot', seq: 5, requests: [req(1, 'a'), req(4, 'd')], queue: { pending: 2, processing: 0 } }, 99);
    expect(s.cards.a?.phase.kind).toBe('queued');
    expect(s.order).toEqual(['a', 'd']);
    expect(flushOutbox(s).frames).toHaveLength(1);
  });

  it('UI-8: a request that already finished is never shown again as pending', () => {
    let s = applyEvent(emptyQueue(), req(1, 'a'));
    s = applyEvent(s, { type: 'permission-cancelled', seq: 2, requestId: 'a', reason: 'agent gave up', timestamp: 2 });
    s = applyEvent(s, req(1, 'a'));
    expect(s.order).toEqual([]);
    expect(describeOutcome(s.history[0]!)).toBe('Cancelled ("agent gave up")');
  });

  it("CCH-15: a request cancelled answered-in-terminal reads as answered in the agent's terminal, not as the agent giving up", () => {
    let s = applyEvent(emptyQueue(), req(1, 'a'));
    s = applyEvent(s, { type: 'permission-cancelled', seq: 2, requestId: 'a', reason: 'answered-in-terminal', timestamp: 2 });
    expect(describeOutcome(s.history[0]!)).toBe("Answered in the agent's terminal (not here)");
  });

  it('UI-9: the history is capped, newest first', () => {
    let s = emptyQueue();
    for (let i = 1; i <= HISTORY_LIMIT + 5; i++) {
      s = applyEvent(s, req(i * 2, `r${i}`));
      s = applyEvent(s, { type: 'permission-timeout', seq: i * 2 + 1, requestId: `r${i}`, toolName: 'Bash', timestamp: i });
    }
    expect(s.history).toHaveLength(HISTORY_LIMIT);
    expect(s.history[0]?.requestId).toBe(`r${HISTORY_LIMIT + 5}`);
  });
});
