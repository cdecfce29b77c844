import { describe, expect, it } from 'vitest';
import { StreamChecker } from './streamCheck.js';

const request = (seq: number, id: string) => ({ type: 'permission-request', seq, id, toolName: 'Bash', input: {}, context: {}, timestamp: 1, expiresAt: 2 });
const welcome = (seq: number) => ({ type: 'welcome', protocol: 1, epoch: 'e1', seq, resumed: false, clientId: 'c' });

describe('StreamChecker with a snapshot in parts', () => {
  it('LIM-2: accepts snapshot + snapshot-parts then live events, and holds every request of every part', () => {
    const checker = new StreamChecker('a');
    checker.connectionOpened();
    checker.frame(welcome(3));
    checker.frame({ type: 'snapshot', seq: 3, requests: [request(1, 'r1')], queue: { pending: 3, processing: 0 }, more: true });
    expect(checker.canResume).toBe(false);
    checker.frame({ type: 'snapshot-part', requests: [request(2, 'r2')], more: true });
    checker.frame({ type: 'snapshot-part', requests: [request(3, 'r3')], more: false });
    expect(checker.canResume).toBe(true);
    checker.frame({ type: 'permission-resolved', seq: 4, requestId: 'r2', decision: 'allow', decidedBy: 'x', timestamp: 1 });
    expect(checker.violations).toEqual([]);
    expect([...checker.requests.keys()]).toEqual(['r1', 'r2', 'r3']);
    expect(checker.lastSeq).toBe(4);
  });

  it('LIM-2: flags an event before the last part, a stray part, and a request listed twice; a cut mid-snapshot cannot resume', () => {
    const early = new StreamChecker('b');
    early.connectionOpened();
    early.frame(welcome(2));
    early.frame({ type: 'snapshot', seq: 2, requests: [request(1, 'r1')], queue: { pending: 2, processing: 0 }, more: true });
    early.frame(request(3, 'r3'));
    expect(early.violations.join('\n')).toMatch(/before the last snapshot-part/);

    const stray = new StreamChecker('c');
    stray.connectionOpened();
    stray.frame(welcome(1));
    stray.frame({ type: 'snapshot', seq: 1, requests: [request(1, 'r1')], queue: { pending: 1, processing: 0 } });
    stray.frame({ type: 'snapshot-part', requests: [request(1, 'r1')], more: false });
    expect(stray.violations.join('\n')).toMatch(/snapshot-part that did not follow/);
    expect(stray.violations.join('\n')).toMatch(/r1 twice/);

    const cut = new StreamChecker('d');
    cut.connectionOpened();
    cut.frame(welcome(2));
    cut.frame({ type: 'snapshot', seq: 2, requests: [request(1, 'r1')], queue: { pending: 2, processing: 0 }, more: true });
    cut.connectionOpened(); // the socket dropped before the last part
    expect(cut.canResume).toBe(false);
  });
});
