import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CANCEL_REASONS } from './constants.ts';
import {
  cancelledMessage,
  cancelledText,
  DECIDED_BY_KINDS,
  type DecidedBy,
  deciderText,
  formatDecidedBy,
  outcomeMessageForAgent,
  parseDecidedBy,
  timedOutMessage,
} from './outcome.ts';

/** A label as server/ws/connection.ts lets a client take one (and the clientIds the server gives). */
const labelChar = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ._@-');
const clientLabel = fc.oneof(
  fc.stringMatching(/^(browser|client)-[0-9a-f]{8}$/),
  fc
    .array(labelChar, { minLength: 1, maxLength: 40 })
    .map((chars) => chars.join(''))
    .filter((label) => /[a-z0-9]/i.test(label) && !/^(http|https|api|timeout|deadline|agent|server|unknown|rule|device|claude-code)/i.test(label)),
);
const idText = fc.string({ minLength: 1, maxLength: 60 });
const decidedBy: fc.Arbitrary<DecidedBy> = fc.oneof(
  clientLabel.map((label): DecidedBy => ({ kind: 'client', label })),
  idText.map((name): DecidedBy => ({ kind: 'device', name })),
  fc.constant<DecidedBy>({ kind: 'http' }),
  idText.map((ruleId): DecidedBy => ({ kind: 'rule', ruleId })),
  fc.constant<DecidedBy>({ kind: 'timeout' }),
  fc.constant<DecidedBy>({ kind: 'agent' }),
  fc.constant<DecidedBy>({ kind: 'agent', name: 'claude-code' }),
  fc.constant<DecidedBy>({ kind: 'server' }),
  fc.constant<DecidedBy>({ kind: 'server', restart: true }),
);

describe('one outcome vocabulary (CORE-O)', () => {
  it('CORE-O1: decidedBy serialises to exactly the wire strings the server writes', () => {
    expect(formatDecidedBy({ kind: 'http' })).toBe('http');
    expect(formatDecidedBy({ kind: 'timeout' })).toBe('timeout');
    expect(formatDecidedBy({ kind: 'rule', ruleId: 'r1' })).toBe('rule:r1');
    expect(formatDecidedBy({ kind: 'client', label: 'browser-1a2b3c4d' })).toBe('browser-1a2b3c4d');
    expect(formatDecidedBy({ kind: 'agent' })).toBe('agent');
    expect(formatDecidedBy({ kind: 'agent', name: 'claude-code' })).toBe('claude-code');
    expect(formatDecidedBy({ kind: 'server' })).toBe('server');
    expect(formatDecidedBy({ kind: 'server', restart: true })).toBe('server-restart');
    expect(formatDecidedBy({ kind: 'device', name: 'phone' })).toBe('device:phone');
    expect(parseDecidedBy('rule:7')).toEqual({ kind: 'rule', ruleId: '7' });
    expect(parseDecidedBy('Alice on laptop')).toEqual({ kind: 'client', label: 'Alice on laptop' });
  });

  it('CORE-O1: round trip over every kind: parse(format(x)) = x, and format(parse(s)) = s for any string', () => {
    const kinds = new Set<string>();
    fc.assert(
      fc.property(decidedBy, (by) => {
        kinds.add(by.kind);
        expect(parseDecidedBy(formatDecidedBy(by))).toEqual(by);
      }),
      { numRuns: 2000 },
    );
    expect([...kinds].sort()).toEqual([...DECIDED_BY_KINDS].sort());
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (wire) => {
        expect(formatDecidedBy(parseDecidedBy(wire))).toBe(wire);
      }),
      { numRuns: 2000 },
    );
    // the empty suffixes stay what they were (a label), never a rule without an id
    expect(parseDecidedBy('rule:')).toEqual({ kind: 'client', label: 'rule:' });
  });

  it('CORE-O2: a client label reads quoted, so it cannot pass for a rule or the HTTP API', () => {
    expect(deciderText({ kind: 'client', label: 'the remembered rule 7' })).toBe('the client "the remembered rule 7"');
    expect(deciderText(parseDecidedBy('rule:7'))).toBe('the remembered rule 7');
    expect(deciderText(parseDecidedBy('http'))).toBe('the HTTP API');
  });

  it('CORE-O3: one sentence for a timeout, one for each cancel reason', () => {
    expect(timedOutMessage(1.5)).toBe('Timed out: no decision within 1.5 s, so the request was denied.');
    expect(timedOutMessage()).toMatch(/^Timed out: no decision in time/);
    const texts = new Set<string>();
    for (const reason of CANCEL_REASONS) {
      const message = cancelledMessage(reason);
      expect(message.startsWith(`Cancelled (${reason}): `)).toBe(true);
      expect(message).toMatch(/denied\.$/);
      texts.add(cancelledText(reason));
    }
    expect(texts.size).toBe(CANCEL_REASONS.length);
    expect(cancelledText('answered-in-terminal')).toBe("Answered in the agent's terminal (not here)");
    expect(cancelledText('my own reason')).toBe('Cancelled ("my own reason")');
  });

  it('CORE-O4: the agent is told the human reason on a deny, else who decided; a timeout and a cancel say so', () => {
    expect(outcomeMessageForAgent({ status: 'resolved', decision: 'deny', message: 'not now', decidedBy: 'bob' })).toBe('not now');
    expect(outcomeMessageForAgent({ status: 'resolved', decision: 'deny', decidedBy: 'bob' })).toBe('Denied in Gatehouse by the client "bob".');
    expect(outcomeMessageForAgent({ status: 'resolved', decision: 'allow', decidedBy: 'rule:r1' })).toBe('Allowed in Gatehouse by the remembered rule r1.');
    expect(outcomeMessageForAgent({ status: 'timedOut', decision: 'deny', seconds: 3 })).toBe(timedOutMessage(3));
    expect(outcomeMessageForAgent({ status: 'cancelled', decision: 'deny', reason: 'agent-aborted' })).toBe(cancelledMessage('agent-aborted'));
  });
});
