import { describe, expect, it } from 'vitest';
import { checkLabel, labelSkeleton, newClientId } from './connection.ts';

const refused = (raw: string) => {
  const checked = checkLabel(raw);
  return checked.ok ? null : checked.problem;
};

describe('client labels', () => {
  it('SEE-5: a label the server uses for its own decisions is refused, in any case or spelling', () => {
    for (const raw of [
      'http',
      'HTTP',
      'Http ',
      'h.t.t.p',
      'h t t p',
      'timeout',
      'TimeOut',
      'time-out',
      'agent',
      'server',
      'server-restart',
      'unknown',
      'api',
      'owner',
    ]) {
      expect(refused(raw), raw).toMatch(/reserved/);
    }
  });

  it('SEE-5: rule and device identities are refused (`rule:` itself has a character no label may hold)', () => {
    expect(refused('rule:abc')).toMatch(/character ":" is not allowed/);
    for (const raw of ['rule', 'rule 12', 'Rule-abc', 'rule_x', 'device', 'device-1', 'Device 7f3a', 'devlce']) expect(refused(raw), raw).toMatch(/reserved/);
  });

  it('SEE-5: a label shaped like a client id, or like one with look-alike letters, is refused', () => {
    for (let i = 0; i < 20; i++) {
      const id = newClientId(i % 2 === 0);
      expect(refused(id), id).toMatch(/looks like a client id/);
      expect(refused(id.toUpperCase())).toMatch(/looks like a client id/);
      expect(refused(id.replace(/0/g, 'O').replace(/1/g, 'l').replace('-', ' '))).toMatch(/looks like a client id/);
      expect(refused(id.replace('-', '_'))).toMatch(/looks like a client id/);
    }
    expect(refused('browser-1a2b3c4')).toMatch(/looks like a client id/);
    expect(refused('cIient-deadbeef')).toMatch(/looks like a client id/);
  });

  it('SEE-5: hidden, control and non-ASCII characters are refused by name, never stripped into another label', () => {
    expect(refused('h\u200Bttp')).toBe('label: the character \\u200B is not allowed (letters, digits, space and . _ @ - only)');
    expect(refused('alice\u202Eecila')).toMatch(/\\u202E is not allowed/);
    expect(refused('bob\r')).toMatch(/\\r is not allowed/);
    expect(refused('bоb')).toMatch(/"о" is not allowed/); // Cyrillic о
    expect(refused('x'.repeat(41))).toMatch(/at most 40 characters/);
    expect(refused('...')).toMatch(/at least one letter or digit/);
  });

  it('SEE-5: ordinary labels are kept (spaces collapsed); none or an empty one means the client id', () => {
    for (const raw of ['alice', 'Bob on laptop', 'ci-runner', 'me@example.com', 'agent smith', 'Browser Bob', 'client side', 'timeouts team', 'x'.repeat(40)]) {
      expect(checkLabel(raw), raw).toEqual({ ok: true, label: raw });
    }
    expect(checkLabel('  two   spaces  ')).toEqual({ ok: true, label: 'two spaces' });
    expect(checkLabel(undefined)).toEqual({ ok: true, label: undefined });
    expect(checkLabel('')).toEqual({ ok: true, label: undefined });
    expect(labelSkeleton('B-r.O_w s1')).toBe('browsl');
  });
});
