import { describe, expect, it } from 'vitest';
import type { AskOutcome, AskSpec } from '../client/ask.ts';
import { LineSplitter } from './lines.ts';
import { AcpProxy } from './proxy.ts';

const OPTIONS = [
  { optionId: 'always', name: 'Always Allow', kind: 'allow_always' },
  { optionId: 'once', name: 'Allow', kind: 'allow_once' },
  { optionId: 'no', name: 'Reject', kind: 'reject_once' },
];
const askLine = (id: number, sessionId = 's-1', command = 'touch /tmp/m') =>
  line({
    jsonrpc: '2.0',
    id,
    method: 'session/request_permission',
    params: { sessionId, options: OPTIONS, toolCall: { toolCallId: `call-${id}`, title: command, kind: 'execute' } },
  });
function line(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value) + '\n', 'utf8');
}
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

type FakeAsk = { spec: AskSpec; onCreated: (id: string) => void; signal: AbortSignal; resolve: (outcome: AskOutcome) => void };

function harness(options: { editor?: boolean } = {}) {
  const toEditor: Buffer[] = [];
  const toAgent: Buffer[] = [];
  const cancels: Array<[string, string]> = [];
  const asks: FakeAsk[] = [];
  const proxy = new AcpProxy({
    agent: 'acp:fake',
    editor: options.editor ?? true,
    cwd: '/proxy',
    toEditor: (data) => toEditor.push(Buffer.from(data)),
    toAgent: (data) => toAgent.push(Buffer.from(data)),
    ask: (spec, onCreated, signal) =>
      new Promise<AskOutcome>((resolve) => {
        const entry = { spec, onCreated, signal, resolve };
        asks.push(entry);
        signal.addEventListener('abort', () => resolve({ kind: 'gave-up', requestId: 'r', reason: 'aborted' }), { once: true });
      }),
    cancel: async (requestId, reason) => {
      cancels.push([requestId, reason]);
    },
    log: () => {},
  });
  const json = (buffers: Buffer[]) => buffers.map((b) => JSON.parse(b.toString('utf8')));
  return { proxy, toEditor, toAgent, cancels, asks, json };
}

const allow: AskOutcome = { kind: 'finished', requestId: 'r-1', status: 'resolved', decision: 'allow', decidedBy: 'human' };
const deny: AskOutcome = { kind: 'finished', requestId: 'r-1', status: 'resolved', decision: 'deny', decidedBy: 'human' };

describe('AcpProxy', () => {
  it('ACP-5: lines that are not the permission flow pass unchanged, both ways, invalid UTF-8 and non-JSON included', () => {
    const h = harness();
    const odd = [
      Buffer.from('{"jsonrpc":"2.0","method":"session/update","params":{"x":1,  "y":"\\u00e9"}}\r\n', 'utf8'),
      Buffer.from([0x7b, 0xff, 0xfe, 0x7d, 0x0a]),
      Buffer.from('not json at all\n'),
      Buffer.from('[{"jsonrpc":"2.0","id":1,"method":"x"}]\n'),
      line({ jsonrpc: '2.0', id: 7, method: '_vendor/ext', params: { deep: { a: [1, 2] } } }),
    ];
    for (const l of odd) h.proxy.fromAgent(l);
    for (const l of odd) h.proxy.fromEditor(l);
    expect(Buffer.concat(h.toEditor).equals(Buffer.concat(odd))).toBe(true);
    expect(Buffer.concat(h.toAgent).equals(Buffer.concat(odd))).toBe(true);
    expect(h.asks).toHaveLength(0);
  });

  it('ACP-5: the line splitter hands on exact bytes across chunk boundaries, and a last line without newline', () => {
    const got: Buffer[] = [];
    const splitter = new LineSplitter((l) => got.push(l));
    const text = Buffer.from('{"a":1}\n{"b":"é"}\n{"c":3}', 'utf8');
    for (let i = 0; i < text.length; i += 3) splitter.push(text.subarray(i, i + 3));
    splitter.end();
    expect(got.map((b) => b.toString('utf8'))).toEqual(['{"a":1}\n', '{"b":"é"}\n', '{"c":3}']);
  });

  it('ACP-1: the ask goes to the editor unchanged and to Gatehouse; a Gatehouse allow answers allow_once and withdraws the editor copy', async () => {
    const h = harness();
    h.proxy.fromEditor(line({ jsonrpc: '2.0', id: 1, method: 'session/new', params: { cwd: '/w', mcpServers: [] } }));
    h.proxy.fromAgent(line({ jsonrpc: '2.0', id: 1, result: { sessionId: 's-1' } }));
    const ask = askLine(0);
    h.proxy.fromAgent(ask);
    expect(h.toEditor[h.toEditor.length - 1]?.equals(ask)).toBe(true);
    expect(h.asks[0]?.spec.context).toMatchObject({ agent: 'acp:fake', sessionId: 's-1', toolUseId: 'call-0', cwd: '/w' });
    h.asks[0]!.resolve(allow);
    await flush();
    expect(h.json(h.toAgent).pop()).toEqual({ jsonrpc: '2.0', id: 0, result: { outcome: { outcome: 'selected', optionId: 'once' } } });
    expect(h.json(h.toEditor).pop()).toEqual({ jsonrpc: '2.0', method: '$/cancel_request', params: { requestId: 0 } });
    // The editor's late reply (even an allow_always) is dropped.
    const before = h.toAgent.length;
    h.proxy.fromEditor(line({ jsonrpc: '2.0', id: 0, result: { outcome: { outcome: 'selected', optionId: 'always' } } }));
    expect(h.toAgent.length).toBe(before);
  });

  it('ACP-3: the editor answers first: its reply passes unchanged, the Gatehouse request is cancelled answered-in-editor once its id is known', async () => {
    const h = harness();
    h.proxy.fromAgent(askLine(4));
    const reply = line({ jsonrpc: '2.0', id: 4, result: { outcome: { outcome: 'selected', optionId: 'no' } } });
    h.proxy.fromEditor(reply);
    expect(h.toAgent[h.toAgent.length - 1]?.equals(reply)).toBe(true);
    expect(h.cancels).toEqual([]);
    h.asks[0]!.onCreated('r-9'); // created after the editor answered
    await flush();
    expect(h.cancels).toEqual([['r-9', 'answered-in-editor']]);
    expect(h.asks[0]?.signal.aborted).toBe(true);
    // Gatehouse's (late) outcome changes nothing.
    const count = h.toAgent.length;
    h.asks[0]!.resolve(allow);
    await flush();
    expect(h.toAgent.length).toBe(count);
    expect(h.toEditor.some((b) => b.toString().includes('$/cancel_request'))).toBe(false);
  });

  it('ACP-9: --no-editor: the editor never sees the ask, and its reply to a guessed id is dropped', async () => {
    const h = harness({ editor: false });
    h.proxy.fromAgent(askLine(0));
    expect(h.toEditor).toHaveLength(0);
    // An editor that guesses the id must not answer for Gatehouse.
    h.proxy.fromEditor(line({ jsonrpc: '2.0', id: 0, result: { outcome: { outcome: 'selected', optionId: 'always' } } }));
    expect(h.toAgent).toHaveLength(0);
    h.asks[0]!.resolve(deny);
    await flush();
    expect(h.json(h.toAgent)).toEqual([{ jsonrpc: '2.0', id: 0, result: { outcome: { outcome: 'selected', optionId: 'no' } } }]);
    expect(h.toEditor).toHaveLength(0);
  });

  it('ACP-9: --no-editor and no decision (server down, timed out): rejected, never allowed', async () => {
    const h = harness({ editor: false });
    h.proxy.fromAgent(askLine(0));
    h.proxy.fromAgent(askLine(1));
    h.asks[0]!.resolve({ kind: 'unavailable', down: true, reason: 'connection refused' });
    h.asks[1]!.resolve({ kind: 'finished', requestId: 'r', status: 'timedOut', decision: 'deny' });
    await flush();
    expect(h.json(h.toAgent).map((m) => m.result.outcome)).toEqual([
      { outcome: 'selected', optionId: 'no' },
      { outcome: 'selected', optionId: 'no' },
    ]);
  });

  it('ACP-3: with an editor, no decision from Gatehouse leaves the editor to answer', async () => {
    const h = harness();
    h.proxy.fromAgent(askLine(0));
    h.asks[0]!.resolve({ kind: 'unavailable', down: true, reason: 'connection refused' });
    await flush();
    expect(h.toAgent).toHaveLength(0);
    const reply = line({ jsonrpc: '2.0', id: 0, result: { outcome: { outcome: 'selected', optionId: 'once' } } });
    h.proxy.fromEditor(reply);
    expect(h.toAgent).toEqual([reply]);
  });

  it("ACP-4: session/cancel reaches the agent, answers that session's asks cancelled, cancels their requests; other sessions wait", async () => {
    const h = harness();
    h.proxy.fromAgent(askLine(0, 's-1'));
    h.proxy.fromAgent(askLine(1, 's-2'));
    h.asks[0]!.onCreated('r-0');
    h.asks[1]!.onCreated('r-1');
    const cancel = line({ jsonrpc: '2.0', method: 'session/cancel', params: { sessionId: 's-1' } });
    h.proxy.fromEditor(cancel);
    await flush();
    expect(h.toAgent[0]?.equals(cancel)).toBe(true);
    expect(h.json(h.toAgent.slice(1))).toEqual([{ jsonrpc: '2.0', id: 0, result: { outcome: { outcome: 'cancelled' } } }]);
    expect(h.cancels).toEqual([['r-0', 'session-cancelled']]);
    expect(h.proxy.waiting).toBe(1);
  });

  it('ACP-15: the agent withdraws its ask ($/cancel_request): the editor gets the notice, the Gatehouse request is cancelled', async () => {
    for (const editor of [true, false]) {
      const h = harness({ editor });
      h.proxy.fromAgent(askLine(2));
      h.asks[0]!.onCreated('r-2');
      const withdraw = line({ jsonrpc: '2.0', method: '$/cancel_request', params: { requestId: 2 } });
      h.proxy.fromAgent(withdraw);
      await flush();
      expect(h.toEditor[h.toEditor.length - 1]?.equals(withdraw)).toBe(true);
      expect(h.cancels).toEqual([['r-2', 'agent-cancelled']]);
      expect(h.proxy.waiting).toBe(0);
      // With an editor, the editor answers the withdrawn request (passed on); alone, the proxy answers `cancelled`.
      expect(h.json(h.toAgent)).toEqual(editor ? [] : [{ jsonrpc: '2.0', id: 2, result: { outcome: { outcome: 'cancelled' } } }]);
      // A Gatehouse decision arriving afterwards answers nothing.
      h.asks[0]!.resolve(allow);
      await flush();
      expect(h.json(h.toAgent).length).toBe(editor ? 0 : 1);
    }
  });

  it('ACP-8: an unreadable ask is left to the editor; with --no-editor it is answered cancelled', () => {
    const bad = line({ jsonrpc: '2.0', id: 3, method: 'session/request_permission', params: { sessionId: 's', options: 'all' } });
    const withEditor = harness();
    withEditor.proxy.fromAgent(bad);
    expect(withEditor.toEditor).toEqual([bad]);
    expect(withEditor.asks).toHaveLength(0);
    const alone = harness({ editor: false });
    alone.proxy.fromAgent(bad);
    expect(alone.json(alone.toAgent)).toEqual([{ jsonrpc: '2.0', id: 3, result: { outcome: { outcome: 'cancelled' } } }]);
  });

  it('ACP-10: when the agent exits, every waiting Gatehouse request is given up', async () => {
    const h = harness();
    h.proxy.fromAgent(askLine(0));
    h.proxy.fromAgent(askLine(1));
    await h.proxy.close();
    expect(h.asks.every((a) => a.signal.aborted)).toBe(true);
    expect(h.proxy.waiting).toBe(0);
  });
});
