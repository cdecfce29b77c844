import { describe, expect, it } from 'vitest';
import { DECIDED_BY_WIRE, decidedByWire, NAMED_AGENTS, parseDecidedBy } from '../../protocol/index.ts';
import { checkLabel } from './connection.ts';

describe('labels and the outcome vocabulary', () => {
  it('CORE-O5: no client label can read as a decidedBy the server writes itself', () => {
    const serverWritten = [
      decidedByWire.http,
      decidedByWire.timeout,
      decidedByWire.agent,
      decidedByWire.claudeCode,
      decidedByWire.server,
      DECIDED_BY_WIRE.serverRestart,
      ...NAMED_AGENTS,
      'rule 7',
      'device phone',
    ];
    for (const wire of serverWritten) {
      const checked = checkLabel(wire);
      expect(checked.ok, wire).toBe(false);
    }
    // and every label that is accepted parses back as a client
    for (const label of ['alice', 'Alice on laptop', 'ci-bot.2', 'me@home']) {
      const checked = checkLabel(label);
      expect(checked.ok, label).toBe(true);
      expect(parseDecidedBy(label)).toEqual({ kind: 'client', label });
    }
  });
});
