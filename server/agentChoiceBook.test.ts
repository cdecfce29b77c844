/**
 * The agent's own choices at the edge (AGX-1, AGX-2, AGX-10): a decision's `agentChoice`
 * is checked against the request's offer and read back only as the winner's, through a
 * real server process (HTTP and WebSocket decisions, a remembered rule), plus the book's
 * own rules as units.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentChoiceBook } from './agentChoiceBook.ts';
import { connectClient, startServerProcess, type ServerProcess } from './testing/index.ts';

const offer = {
  agent: 'acp:gemini',
  agentChoices: [
    { id: 'proceed_always', kind: 'allow_always', label: 'Allow for this session' },
    { id: 'proceed_once', kind: 'allow_once', label: 'Allow' },
    { id: 'cancel', kind: 'reject_once', label: 'Reject' },
  ],
};

describe('AgentChoiceBook (units)', () => {
  it('AGX-1: only the first attempt counts, and only when its decision and decider are the outcome', () => {
    const book = new AgentChoiceBook();
    book.record({ requestId: 'r', decision: 'allow', decidedBy: 'http', agentChoice: 'proceed_always', hasRemember: false, hasUpdatedInput: false }, offer);
    // A later attempt (a loser) never replaces it.
    book.record({ requestId: 'r', decision: 'allow', decidedBy: 'http', hasRemember: false, hasUpdatedInput: false }, offer);
    expect(book.chosen('r', { status: 'resolved', decision: 'allow', decidedBy: 'http' }, offer)?.id).toBe('proceed_always');
    // A rule, a timeout, another decider or a cancel: no choice.
    expect(book.chosen('r', { status: 'resolved', decision: 'allow', decidedBy: 'rule:1' }, offer)).toBeUndefined();
    expect(book.chosen('r', { status: 'resolved', decision: 'deny', decidedBy: 'http' }, offer)).toBeUndefined();
    expect(book.chosen('r', { status: 'cancelled', decision: 'deny', decidedBy: 'http' }, offer)).toBeUndefined();
    expect(book.chosen('other', { status: 'resolved', decision: 'allow', decidedBy: 'http' }, offer)).toBeUndefined();
    // A plain first attempt shadows a later choice.
    book.record({ requestId: 'p', decision: 'allow', decidedBy: 'tab', hasRemember: false, hasUpdatedInput: false }, offer);
    book.record({ requestId: 'p', decision: 'allow', decidedBy: 'tab', agentChoice: 'proceed_always', hasRemember: false, hasUpdatedInput: false }, offer);
    expect(book.chosen('p', { status: 'resolved', decision: 'allow', decidedBy: 'tab' }, offer)).toBeUndefined();
    // An attempt the broker refused (another instance decided first, with the same decider) never counts.
    const token = book.record(
      {
        requestId: 'q',
        decision: 'allow',
        decidedBy: 'http',
        agentChoice: 'proceed_always',
        hasRemember: false,
        hasUpdatedInput: false,
      },
      offer,
    );
    book.forget('q', token);
    expect(book.chosen('q', { status: 'resolved', decision: 'allow', decidedBy: 'http' }, offer)).toBeUndefined();
    // `forget` with a token of no attempt (a later one that was not recorded) leaves the first alone.
    book.forget('r', book.record({ requestId: 'r', decision: 'allow', decidedBy: 'http', hasRemember: false, hasUpdatedInput: false }, offer));
    expect(book.chosen('r', { status: 'resolved', decision: 'allow', decidedBy: 'http' }, offer)?.id).toBe('proceed_always');
    // A request whose agent offered no choices (or one not unresolved) keeps nothing: the
    // book's memory grows only with requests that have choices.
    expect(
      book.record({ requestId: 'n', decision: 'allow', decidedBy: 'tab', hasRemember: false, hasUpdatedInput: false }, { agent: 'claude-code' }),
    ).toBeUndefined();
    expect(book.record({ requestId: 'n', decision: 'allow', decidedBy: 'tab', hasRemember: false, hasUpdatedInput: false }, undefined)).toBeUndefined();
  });

  it('AGX-2: a choice not offered, of the other decision, with a rule or an edit, or in a garbled offer, is refused', () => {
    const book = new AgentChoiceBook();
    const attempt = { requestId: 'r', decision: 'allow' as const, decidedBy: 'http', hasRemember: false, hasUpdatedInput: false };
    expect(book.check({ ...attempt, agentChoice: 'proceed_always' }, offer)).toBeUndefined();
    expect(book.check({ ...attempt, agentChoice: 'nope' }, offer)).toContain('not one of');
    expect(book.check({ ...attempt, agentChoice: 'cancel' }, offer)).toContain('cannot go with decision allow');
    expect(book.check({ ...attempt, decision: 'deny', agentChoice: 'proceed_once' }, offer)).toContain('cannot go with decision deny');
    expect(book.check({ ...attempt, agentChoice: 'proceed_always', hasRemember: true }, offer)).toContain('cannot be sent together');
    expect(book.check({ ...attempt, agentChoice: 'proceed_always', hasUpdatedInput: true }, offer)).toContain('no edited input');
    const garbled = { agentChoices: [{ id: 'x', kind: 'allow_forever', label: 'x' }, 'junk', { id: 'y', kind: 'allow_always' }] };
    expect(book.check({ ...attempt, agentChoice: 'x' }, garbled)).toContain('not one of');
    expect(book.check({ ...attempt, agentChoice: 'y' }, garbled)).toContain('not one of');
    expect(book.check({ ...attempt, agentChoice: 'x' }, { agentChoices: 'allow_always' })).toContain('not one of');
  });
});

describe('agent choices through a real server', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServerProcess({});
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });

  const create = async (command: string, context: Record<string, unknown> = offer) => {
    const created = await server.api('/api/permission-requests', {
      method: 'POST',
      token: server.agentToken ?? null,
      json: { toolName: 'Bash', input: { command }, context: { ...context, sessionId: 's1', cwd: '/tmp' } },
    });
    expect(created.status, created.text).toBe(201);
    return created.body.id as string;
  };
  const view = async (id: string) => (await server.api(`/api/permission-requests/${id}`, { token: server.agentToken ?? null })).body;

  it("AGX-1: the winning HTTP decision's choice is in the request view (agent role); a second decision's choice never shows", async () => {
    const id = await create('echo one');
    const first = await server.api(`/api/permission-requests/${id}/decision`, { method: 'POST', json: { decision: 'allow', agentChoice: 'proceed_once' } });
    expect(first.status, first.text).toBe(200);
    expect(first.body.agentChoice).toBe('proceed_once');
    const late = await server.api(`/api/permission-requests/${id}/decision`, { method: 'POST', json: { decision: 'allow', agentChoice: 'proceed_always' } });
    expect(late.status).toBe(409);
    expect(await view(id)).toMatchObject({ status: 'resolved', decision: 'allow', agentChoice: 'proceed_once' });
    // On record in the audit, with the agent's wording and kind.
    const audit = await server.api(`/api/audit/${id}`);
    expect(audit.body.entry.agentChoice).toEqual({ id: 'proceed_once', kind: 'allow_once', label: 'Allow' });
  });

  it('AGX-1: over the WebSocket the same; a plain allow has no choice (the bridge answers once)', async () => {
    const ws = await connectClient(server.wsUrl());
    try {
      await ws.waitFor((frame) => frame.type === 'welcome');
      const chosen = await create('echo two');
      const plain = await create('echo three');
      ws.send({ type: 'permission-response', requestId: chosen, decision: 'allow', agentChoice: 'proceed_always', clientMsgId: crypto.randomUUID() });
      ws.send({ type: 'permission-response', requestId: plain, decision: 'allow', clientMsgId: crypto.randomUUID() });
      await ws.waitFor((frame) => frame.type === 'permission-resolved' && frame.requestId === plain);
      await ws.waitFor((frame) => frame.type === 'permission-resolved' && frame.requestId === chosen);
      expect((await view(chosen)).agentChoice).toBe('proceed_always');
      expect((await view(plain)).agentChoice).toBeUndefined();
      expect((await server.api(`/api/audit/${chosen}`)).body.entry.agentChoice).toMatchObject({ kind: 'allow_always' });
      expect((await server.api(`/api/audit/${plain}`)).body.entry.agentChoice).toBeUndefined();
      // Refused before anything is decided: the request stays pending.
      const refused = await create('echo four');
      const ref = crypto.randomUUID();
      ws.send({ type: 'permission-response', requestId: refused, decision: 'deny', agentChoice: 'proceed_always', clientMsgId: ref });
      const error = await ws.waitFor((frame) => frame.type === 'error' && frame.ref === ref);
      expect(error).toMatchObject({ code: 'invalid-message', requestId: refused });
      expect((await view(refused)).status).toBe('pending');
    } finally {
      await ws.close();
    }
  });

  it('AGX-1: a decision with a choice keeps its place in line: a plain decision sent right after it on the same socket does not overtake it', async () => {
    const ws = await connectClient(server.wsUrl());
    try {
      await ws.waitFor((frame) => frame.type === 'welcome');
      const id = await create('echo five');
      const second = crypto.randomUUID();
      ws.send({ type: 'permission-response', requestId: id, decision: 'deny', agentChoice: 'cancel', clientMsgId: crypto.randomUUID() });
      ws.send({ type: 'permission-response', requestId: id, decision: 'allow', clientMsgId: second });
      const refused = await ws.waitFor((frame) => frame.type === 'error' && frame.ref === second);
      expect(refused).toMatchObject({ code: 'already-resolved', requestId: id, decision: 'deny' });
      expect(await view(id)).toMatchObject({ status: 'resolved', decision: 'deny', agentChoice: 'cancel' });
    } finally {
      await ws.close();
    }
  });

  it('AGX-1: a clientMsgId replayed for another request decides nothing, so its choice never counts', async () => {
    const ws = await connectClient(server.wsUrl());
    try {
      await ws.waitFor((frame) => frame.type === 'welcome');
      const first = await create('echo six');
      const other = await create('echo seven');
      const reused = crypto.randomUUID();
      ws.send({ type: 'permission-response', requestId: first, decision: 'allow', clientMsgId: reused });
      await ws.waitFor((frame) => frame.type === 'ack' && frame.ref === reused);
      // The same id for another request with an "always": the stored answer is replayed.
      ws.send({ type: 'permission-response', requestId: other, decision: 'allow', agentChoice: 'proceed_always', clientMsgId: reused });
      await ws.waitFor((frame) => frame.type === 'ack' && frame.ref === reused && frame.requestId === first);
      const plain = crypto.randomUUID();
      ws.send({ type: 'permission-response', requestId: other, decision: 'allow', clientMsgId: plain });
      await ws.waitFor((frame) => frame.type === 'ack' && frame.ref === plain);
      expect(await view(other)).toMatchObject({ status: 'resolved', decision: 'allow' });
      expect((await view(other)).agentChoice).toBeUndefined();
    } finally {
      await ws.close();
    }
  });

  it("AGX-1: a remembered Gatehouse rule's allow never carries an agent's always (the bridge answers once)", async () => {
    const id = await create('echo five');
    const remembered = await server.api(`/api/permission-requests/${id}/decision`, {
      method: 'POST',
      json: { decision: 'allow', remember: { scope: 'global' } },
    });
    expect(remembered.status, remembered.text).toBe(200);
    const next = await create('echo five');
    const decided = await server.api(`/api/permission-requests/${next}?wait=10`, { token: server.agentToken ?? null });
    expect(decided.body).toMatchObject({ status: 'resolved', decision: 'allow' });
    expect(decided.body.decidedBy).toMatch(/^rule:/);
    expect(decided.body.agentChoice).toBeUndefined();
  });

  it('AGX-10: where the agent says a human must look, no rule decides, no rule can be made, and the proposal says why', async () => {
    const id = await create('echo six');
    expect(
      (await server.api(`/api/permission-requests/${id}/decision`, { method: 'POST', json: { decision: 'allow', remember: { scope: 'global' } } })).status,
    ).toBe(200);
    const must = await create('echo six', { ...offer, humanMustLook: 'Claude Code matched an ask rule (Bash(echo:*))' });
    // The global rule above covers it, yet it waits for a human.
    const waited = await server.api(`/api/permission-requests/${must}?wait=1`, { token: server.agentToken ?? null });
    expect(waited.body.status).toBe('pending');
    const proposal = await server.api('/api/rules/proposal', { method: 'POST', json: { requestId: must } });
    expect(proposal.body).toMatchObject({ exact: null, prefixes: [] });
    expect(proposal.body.refused).toContain('human must look');
    const remember = await server.api(`/api/permission-requests/${must}/decision`, {
      method: 'POST',
      json: { decision: 'allow', remember: { scope: 'global' } },
    });
    expect(remember.status).toBe(400);
    expect(remember.text).toContain('human must look');
    expect((await server.api(`/api/permission-requests/${must}/decision`, { method: 'POST', json: { decision: 'allow' } })).status).toBe(200);
  });
});
