/**
 * The opencode bridge and its pure mapping, without opencode or Gatehouse: fake deps
 * record every ask, cancel and reply. The real binary runs in opencode.serve.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { AskOutcome, AskSpec } from '../client/ask.ts';
import { OpencodeBridge } from './bridge.ts';
import { parseEvent, replyOf, requestSpecOf, toolOf, type OpencodeAsk, type OpencodeReply } from './permission.ts';

const bashAsk = (id = 'per_1', command = 'touch x'): OpencodeAsk => ({
  id,
  sessionID: 'ses_1',
  permission: 'bash',
  patterns: [command],
  metadata: { command },
  always: ['touch *'],
  tool: { messageID: 'msg_1', callID: 'call_1' },
});
const asked = (ask: OpencodeAsk) => ({ type: 'permission.asked', properties: ask });
const replied = (id: string, reply = 'once') => ({ type: 'permission.replied', properties: { sessionID: 'ses_1', requestID: id, reply } });

/** Resolves once the signal is aborted (at once if it already is). */
const aborted = (signal: AbortSignal) =>
  signal.aborted ? Promise.resolve() : new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));

type Waiter = { spec: AskSpec; onCreated: (id: string) => void; signal: AbortSignal; resolve: (outcome: AskOutcome) => void };

function harness(options: { maxWaiting?: number; replyFails?: boolean } = {}) {
  const asks: Waiter[] = [];
  const cancels: Array<{ requestId: string; reason: string }> = [];
  const replies: Array<{ id: string; body: OpencodeReply }> = [];
  const logs: string[] = [];
  let replyWaiters: Array<() => void> = [];
  const bridge = new OpencodeBridge({
    ask: (spec, onCreated, signal) =>
      new Promise<AskOutcome>((resolve) => {
        asks.push({ spec, onCreated, signal, resolve });
        signal.addEventListener('abort', () => resolve({ kind: 'gave-up', reason: 'aborted' }));
      }),
    cancel: async (requestId, reason) => {
      cancels.push({ requestId, reason });
    },
    reply: async (id, body) => {
      replies.push({ id, body });
      for (const waiter of replyWaiters) waiter();
      replyWaiters = [];
      if (options.replyFails) throw new Error('connection refused');
      return true;
    },
    log: (message) => logs.push(message),
    cwd: () => '/project',
    ...(options.maxWaiting !== undefined ? { maxWaiting: options.maxWaiting } : {}),
  });
  const nextReply = (count: number) =>
    new Promise<void>((resolve) => {
      const check = () => (replies.length >= count ? resolve() : replyWaiters.push(check));
      check();
    });
  return { bridge, asks, cancels, replies, logs, nextReply };
}

const finished = (decision: 'allow' | 'deny', extra: Partial<Extract<AskOutcome, { kind: 'finished' }>> = {}): AskOutcome => ({
  kind: 'finished',
  requestId: 'req_1',
  status: 'resolved',
  decision,
  ...extra,
});

describe('opencode permission mapping', () => {
  it('OPENCODE-1: bash → Bash with the command; edit → Edit with file_path and diff; others → opencode:<permission> with patterns and metadata', () => {
    expect(toolOf(bashAsk())).toEqual({ toolName: 'Bash', input: { command: 'touch x' } });
    const edit: OpencodeAsk = {
      ...bashAsk(),
      permission: 'edit',
      patterns: ['a.txt'],
      metadata: { filepath: '/p/a.txt', diff: '--- a\n+++ b\n' },
      always: ['*'],
    };
    expect(toolOf(edit)).toEqual({ toolName: 'Edit', input: { file_path: '/p/a.txt', diff: '--- a\n+++ b\n' } });
    const external: OpencodeAsk = {
      ...bashAsk(),
      permission: 'external_directory',
      patterns: ['/tmp/*'],
      metadata: { command: 'touch /tmp/x', directories: ['/tmp'] },
      always: ['/tmp/*'],
    };
    expect(toolOf(external)).toEqual({
      toolName: 'opencode:external_directory',
      input: { patterns: ['/tmp/*'], metadata: { command: 'touch /tmp/x', directories: ['/tmp'] } },
    });
    // A bash ask without a command string is not a Bash request (no rule for Bash can match it).
    expect(toolOf({ ...bashAsk(), metadata: { command: ['rm', '-rf'] } }).toolName).toBe('opencode:bash');
  });

  it('OPENCODE-1: the context names the agent, session, tool call, patterns, metadata and always patterns', () => {
    const spec = requestSpecOf(bashAsk(), { cwd: '/project', idempotencyKey: 'k' });
    expect(spec.context).toMatchObject({
      agent: 'opencode',
      sessionId: 'ses_1',
      toolUseId: 'call_1',
      opencodeRequestId: 'per_1',
      permission: 'bash',
      patterns: ['touch x'],
      always: ['touch *'],
      cwd: '/project',
    });
    expect(spec.idempotencyKey).toBe('k');
  });

  it('OPENCODE-2, OPENCODE-5: only a resolved allow replies once; every other outcome is reject with a message saying why', () => {
    const input = { command: 'touch x' };
    expect(replyOf(finished('allow'), input)).toEqual({ reply: 'once' });
    expect(replyOf(finished('allow', { updatedInput: { command: 'touch x' } }), input)).toEqual({ reply: 'once' });
    expect(replyOf(finished('allow', { updatedInput: { command: 'touch y' } }), input)).toMatchObject({
      reply: 'reject',
      message: expect.stringContaining('edited input'),
    });
    expect(replyOf(finished('deny', { message: 'not today' }), input)).toEqual({ reply: 'reject', message: 'not today' });
    expect(replyOf(finished('deny', { decidedBy: 'rule:1' }), input)).toMatchObject({
      reply: 'reject',
      message: 'Denied in Gatehouse by the remembered rule 1.',
    });
    expect(replyOf({ kind: 'finished', requestId: 'r', status: 'timedOut', decision: 'deny' }, input)).toMatchObject({
      reply: 'reject',
      message: expect.stringMatching(/timed out/i),
    });
    // A cancelled view that claims allow is still no allow.
    expect(replyOf({ kind: 'finished', requestId: 'r', status: 'cancelled', decision: 'allow' }, input)).toMatchObject({
      reply: 'reject',
      message: expect.stringMatching(/cancelled/i),
    });
    expect(replyOf({ kind: 'unavailable', down: true, reason: 'connect ECONNREFUSED' }, input)).toMatchObject({
      reply: 'reject',
      message: expect.stringContaining('ECONNREFUSED'),
    });
    expect(replyOf({ kind: 'gave-up', reason: 'deadline' }, input)).toMatchObject({ reply: 'reject', message: expect.stringContaining('deadline') });
  });

  it('OPENCODE-8: events are read leniently: other types are ignored, an unreadable ask is recognised by its id', () => {
    expect(parseEvent({ type: 'server.connected', properties: {} })).toEqual({ kind: 'other', type: 'server.connected' });
    expect(parseEvent(asked(bashAsk()))).toMatchObject({ kind: 'asked' });
    expect(parseEvent({ type: 'permission.asked', properties: { id: 'per_x', sessionID: 'ses_1' } })).toMatchObject({ kind: 'unreadable-ask', id: 'per_x' });
    expect(parseEvent(replied('per_1'))).toEqual({ kind: 'replied', requestId: 'per_1', reply: 'once' });
    expect(parseEvent('nonsense')).toMatchObject({ kind: 'other' });
  });
});

describe('OpencodeBridge', () => {
  it('OPENCODE-2: an ask becomes one Gatehouse request; its allow is replied once', async () => {
    const h = harness();
    h.bridge.onEvent(asked(bashAsk()));
    h.bridge.onEvent(asked(bashAsk())); // the same ask twice (e.g. stream and list): one request
    expect(h.asks).toHaveLength(1);
    expect(h.asks[0]?.spec.toolName).toBe('Bash');
    expect(h.asks[0]?.spec.idempotencyKey.length).toBeLessThanOrEqual(200);
    h.asks[0]!.resolve(finished('allow'));
    await h.nextReply(1);
    expect(h.replies).toEqual([{ id: 'per_1', body: { reply: 'once' } }]);
    // Our own reply comes back as permission.replied: nothing is cancelled.
    h.bridge.onEvent(replied('per_1'));
    expect(h.cancels).toEqual([]);
    expect(h.bridge.size).toBe(0);
  });

  it('OPENCODE-3: permission.replied for a waiting ask cancels its Gatehouse request answered-in-agent and sends no reply', async () => {
    const h = harness();
    h.bridge.onEvent(asked(bashAsk()));
    h.asks[0]!.onCreated('req_1');
    h.bridge.onEvent(replied('per_1'));
    await aborted(h.asks[0]!.signal);
    expect(h.cancels).toEqual([{ requestId: 'req_1', reason: 'answered-in-agent' }]);
    expect(h.replies).toEqual([]);
  });

  it('OPENCODE-3: replied before the request id is known: cancelled with the reason once the id arrives', async () => {
    const h = harness();
    h.bridge.onEvent(asked(bashAsk()));
    h.bridge.onEvent(replied('per_1'));
    expect(h.cancels).toEqual([]);
    h.asks[0]!.onCreated('req_9');
    await aborted(h.asks[0]!.signal);
    expect(h.cancels).toEqual([{ requestId: 'req_9', reason: 'answered-in-agent' }]);
    expect(h.replies).toEqual([]);
  });

  it('OPENCODE-4: many asks wait side by side, each answered on its own; beyond the bound, rejected at once', async () => {
    const h = harness({ maxWaiting: 3 });
    for (let i = 0; i < 4; i += 1) h.bridge.onEvent(asked(bashAsk(`per_${i}`, `echo ${i}`)));
    expect(h.asks).toHaveLength(3);
    expect(new Set(h.asks.map((a) => a.spec.idempotencyKey)).size).toBe(3);
    await h.nextReply(1);
    expect(h.replies[0]).toMatchObject({ id: 'per_3', body: { reply: 'reject', message: expect.stringContaining('Too many') } });
    h.asks[2]!.resolve(finished('allow'));
    await h.nextReply(2);
    expect(h.replies[1]).toEqual({ id: 'per_2', body: { reply: 'once' } });
    expect(h.bridge.size).toBe(2);
  });

  it('OPENCODE-6: resync: a new pending ask is asked, a lost reply is sent again, a waiting ask no longer pending is cancelled', async () => {
    const h = harness({ replyFails: true });
    h.bridge.onEvent(asked(bashAsk('per_a')));
    h.bridge.onEvent(asked(bashAsk('per_b')));
    h.asks[0]!.resolve(finished('deny', { message: 'no' }));
    await h.nextReply(1); // failed: opencode was unreachable
    h.asks[1]!.onCreated('req_b');
    // Reconnected: per_a is still pending (our reply was lost), per_b is gone, per_c is new.
    h.bridge.resync([bashAsk('per_a'), bashAsk('per_c')]);
    await h.nextReply(2);
    expect(h.replies[1]).toEqual({ id: 'per_a', body: { reply: 'reject', message: 'no' } });
    expect(h.asks.map((a) => a.spec.context.opencodeRequestId)).toEqual(['per_a', 'per_b', 'per_c']);
    await aborted(h.asks[1]!.signal);
    expect(h.cancels).toEqual([{ requestId: 'req_b', reason: 'answered-in-agent' }]);
  });

  it('OPENCODE-8: an unreadable ask with an id is rejected saying why; never sent to Gatehouse', async () => {
    const h = harness();
    h.bridge.onEvent({ type: 'permission.asked', properties: { id: 'per_bad', sessionID: 'ses_1', permission: 'bash' } });
    await h.nextReply(1);
    expect(h.asks).toEqual([]);
    expect(h.replies[0]).toMatchObject({ id: 'per_bad', body: { reply: 'reject', message: expect.stringContaining('could not read') } });
  });

  it("OPENCODE-9: close gives up every waiting request and replies nothing (the ask stays for opencode's own UI)", async () => {
    const h = harness();
    h.bridge.onEvent(asked(bashAsk()));
    await h.bridge.close();
    expect(h.asks[0]?.signal.aborted).toBe(true);
    expect(h.replies).toEqual([]);
    h.bridge.onEvent(asked(bashAsk('per_2')));
    expect(h.asks).toHaveLength(1);
  });
});
