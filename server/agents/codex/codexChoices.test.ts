/**
 * Codex's own choices on the card (AGX), with the real `codex app-server` 0.171 offline
 * (fake Responses API) behind a real Gatehouse server process: the card's choices are
 * Codex's `availableDecisions`, the human's pick goes back exactly (an exec-policy
 * amendment makes Codex stop asking; `cancel` stops the turn), a plain allow stays
 * `accept`, and a choice that was not offered is refused. Also Codex clearing an ask
 * itself (`serverRequest/resolved`), driven on the real binary. Each phase prints its timing.
 */
import { existsSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentChoicesOf } from '../../../protocol/index.ts';
import { connectClient, startServerProcess, type Frame, type ServerProcess, type TestClient } from '../../testing/index.ts';
import type { AskExtra, TurnContext } from '../chatAgent.ts';
import type { GateAnswer } from '../permissionGate.ts';
import { codexChoicesOf, codexDecisionFor } from './codexChoices.ts';
import { AppServer, type RpcId } from './appServer.ts';
import { createCodexAgent } from './codexChatAgent.ts';
import { runPrompt, startCodexUnderTest, type CodexUnderTest } from './testing/codexUnderTest.ts';

const TEST_TIMEOUT = 60_000;
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

describe('AGX: Codex choices, pure', () => {
  it("AGX-3: Codex's availableDecisions become the card's choices with Codex's own names; an unknown entry is not offered and never sent", () => {
    const available = [
      'accept',
      'acceptForSession',
      { acceptWithExecpolicyAmendment: { execpolicy_amendment: ['touch', '/x'] } },
      'cancel',
      { somethingNew: {} },
      7,
    ];
    const choices = codexChoicesOf(available);
    expect(choices.map((c) => [c.id, c.kind, c.label])).toEqual([
      ['d0', 'allow_once', 'accept'],
      ['d1', 'allow_always', 'acceptForSession'],
      ['d2', 'allow_always', 'acceptWithExecpolicyAmendment'],
      ['d3', 'reject_once', 'cancel'],
    ]);
    expect(choices[2]?.scope).toContain('touch /x');
    expect(codexDecisionFor(available, 'd2', 'allow')?.entry).toEqual(available[2]);
    // The decision and the choice must agree; an unknown or out-of-range entry is nothing.
    expect(codexDecisionFor(available, 'd1', 'deny')).toBeUndefined();
    expect(codexDecisionFor(available, 'd3', 'allow')).toBeUndefined();
    expect(codexDecisionFor(available, 'd4', 'allow')).toBeUndefined();
    expect(codexDecisionFor(available, 'd9', 'allow')).toBeUndefined();
    expect(codexDecisionFor(available, 'accept', 'allow')).toBeUndefined();
    expect(codexDecisionFor('garbage', 'd0', 'allow')).toBeUndefined();
  });
});

describe('AGX: Codex choices with the real codex app-server', () => {
  let codex: CodexUnderTest;
  let server: ServerProcess;
  let ws: TestClient;
  let work: string;
  const fileStarted = Date.now();

  beforeAll(async () => {
    const t = Date.now();
    work = realpathSync(mkdtempSync(join(tmpdir(), 'gh-codex-choices-')));
    codex = await startCodexUnderTest();
    server = await startServerProcess({ args: ['--agent', 'codex', '--codex-bin', codex.bin], env: { ...codex.env, GATEHOUSE_SESSION_ROOTS: work } });
    ws = await connectClient(server.wsUrl());
    await ws.waitFor((frame) => frame.type === 'welcome');
    console.log(`[codex choices] codex installed, fake model and server up in ${seconds(Date.now() - t)}`);
  }, 240_000);

  afterAll(async () => {
    await ws?.close();
    await server?.stop();
    await codex?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
    console.log(`[codex choices] whole file in ${seconds(Date.now() - fileStarted)}`);
  });

  const chatOf = (id: string) => (frame: Frame) => frame.type === 'chat-message' && frame.sessionId === id;
  const turnEnd = (id: string, from: number) =>
    ws.waitFor((frame) => chatOf(id)(frame) && frame.message.kind === 'turn-end', { timeoutMs: 30_000, fromIndex: from });
  const requestOf = (id: string, from: number) =>
    ws.waitFor((frame) => frame.type === 'permission-request' && frame.context?.sessionId === id, { timeoutMs: 30_000, fromIndex: from });

  async function newSession(prompt: string) {
    const from = ws.frames.length;
    const answer = await server.api('/api/sessions', { method: 'POST', json: { prompt, cwd: work } });
    expect(answer.status, answer.text).toBe(201);
    const id: string = answer.body.session.id;
    return { id, from, request: await requestOf(id, from) };
  }
  async function again(id: string, prompt: string) {
    const from = ws.frames.length;
    expect((await server.api(`/api/sessions/${id}/messages`, { method: 'POST', json: { prompt } })).status).toBe(202);
    return from;
  }
  /** Sends a decision and waits for the server's answer to it (ack or error). */
  async function decide(request: Frame, decision: 'allow' | 'deny', extra: Record<string, unknown> = {}) {
    const clientMsgId = crypto.randomUUID();
    const from = ws.frames.length;
    ws.send({ type: 'permission-response', requestId: request.id, decision, clientMsgId, ...extra });
    return ws.waitFor((frame) => (frame.type === 'ack' || frame.type === 'error') && frame.ref === clientMsgId, { timeoutMs: 10_000, fromIndex: from });
  }
  const choiceOf = (request: Frame, label: string) => {
    const choice = agentChoicesOf(request.context).find((c) => c.label === label);
    if (!choice) throw new Error(`no choice ${label} in ${JSON.stringify(request.context.agentChoices)}`);
    return choice;
  };

  it(
    "AGX-3: Codex's proposed exec-policy amendment chosen on the card goes back exactly: the command runs, and Codex runs it again without asking",
    async () => {
      const t = Date.now();
      const marker = join(work, 'amended');
      const command = `touch ${marker}`;
      const { id, from, request } = await newSession(runPrompt(command));
      expect(request.context.agent).toBe('codex');
      // The card's choices are exactly Codex's availableDecisions, in its order and names.
      expect(agentChoicesOf(request.context).map((c) => c.label)).toEqual(
        (request.context.availableDecisions as unknown[]).map((d) => (typeof d === 'string' ? d : Object.keys(d as object)[0])),
      );
      const amendment = choiceOf(request, 'acceptWithExecpolicyAmendment');
      expect(amendment.kind).toBe('allow_always');
      expect(amendment.scope).toContain(`touch ${marker}`);
      expect((await decide(request, 'allow', { agentChoice: amendment.id })).type).toBe('ack');
      await turnEnd(id, from);
      expect(existsSync(marker)).toBe(true);
      const view = await server.api(`/api/permission-requests/${request.id}`);
      expect(view.body).toMatchObject({ status: 'resolved', decision: 'allow', agentChoice: amendment.id });
      rmSync(marker);
      // Codex now has the rule: the same command runs with no ask at all.
      const next = await again(id, runPrompt(command));
      await turnEnd(id, next);
      expect(ws.frames.slice(next).some((frame) => frame.type === 'permission-request' && frame.context?.sessionId === id)).toBe(false);
      expect(existsSync(marker)).toBe(true);
      console.log(`[codex choices] amendment in ${seconds(Date.now() - t)}`);
    },
    TEST_TIMEOUT,
  );

  it(
    'AGX-4: a plain Allow answers accept even where Codex offers an "always": the same command asks again',
    async () => {
      const t = Date.now();
      const marker = join(work, 'plain');
      const command = `touch ${marker}`;
      const { id, from, request } = await newSession(runPrompt(command));
      expect(agentChoicesOf(request.context).some((c) => c.kind === 'allow_always')).toBe(true);
      expect((await decide(request, 'allow')).type).toBe('ack');
      await turnEnd(id, from);
      expect(existsSync(marker)).toBe(true);
      rmSync(marker);
      const next = await again(id, runPrompt(command));
      const second = await requestOf(id, next);
      expect((await decide(second, 'deny', { message: 'not twice' })).type).toBe('ack');
      await turnEnd(id, next);
      expect(existsSync(marker)).toBe(false);
      console.log(`[codex choices] plain allow in ${seconds(Date.now() - t)}`);
    },
    TEST_TIMEOUT,
  );

  it(
    'AGX-2: a choice that was not offered, or of the other decision, is refused (invalid-message) and decides nothing; cancel chosen stops the turn',
    async () => {
      const t = Date.now();
      const marker = join(work, 'cancelled');
      const { id, from, request } = await newSession(runPrompt(`touch ${marker}`));
      const unknown = await decide(request, 'allow', { agentChoice: 'd99' });
      expect(unknown).toMatchObject({ type: 'error', code: 'invalid-message' });
      expect(unknown.message).toContain('not one of');
      const amendment = choiceOf(request, 'acceptWithExecpolicyAmendment');
      expect(await decide(request, 'deny', { agentChoice: amendment.id })).toMatchObject({ type: 'error', code: 'invalid-message' });
      expect(await decide(request, 'allow', { agentChoice: amendment.id, remember: { scope: 'session' } })).toMatchObject({
        type: 'error',
        code: 'invalid-message',
      });
      expect((await server.api(`/api/permission-requests/${request.id}`)).body.status).toBe('pending');
      const cancel = choiceOf(request, 'cancel');
      expect(cancel).toMatchObject({ kind: 'reject_once', stopsTurn: true });
      expect((await decide(request, 'deny', { agentChoice: cancel.id })).type).toBe('ack');
      const end = await turnEnd(id, from);
      expect(end.message.text).toContain('cancelled');
      expect(existsSync(marker)).toBe(false);
      console.log(`[codex choices] refused choices and cancel in ${seconds(Date.now() - t)}`);
    },
    TEST_TIMEOUT,
  );
});

describe('AGX: Codex clears an ask itself (real codex app-server)', () => {
  let codex: CodexUnderTest;
  let work: string;
  const saved: Record<string, string | undefined> = {};

  beforeAll(async () => {
    work = realpathSync(mkdtempSync(join(tmpdir(), 'gh-codex-clear-')));
    codex = await startCodexUnderTest();
    // The agent starts `codex app-server` with this process's environment (appServer.ts).
    for (const [key, value] of Object.entries(codex.env)) {
      saved[key] = process.env[key];
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }, 240_000);

  afterAll(async () => {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    await codex?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it(
    'AGX-5: the real Codex clears a waiting approval itself when its turn is interrupted: turn/completed, then serverRequest/resolved for that ask',
    async () => {
      const t = Date.now();
      const seen: Array<{ method: string; params: unknown }> = [];
      let asked!: (id: RpcId) => void;
      const askId = new Promise<RpcId>((resolve) => (asked = resolve));
      let cleared!: () => void;
      const resolvedSeen = new Promise<void>((resolve) => (cleared = resolve));
      const rpc = new AppServer(codex.bin, work, {
        // Never answered: only Codex itself can clear it.
        onRequest: (_method, _params, id) => {
          asked(id);
          return new Promise(() => {});
        },
        onNotification: (method, params) => {
          seen.push({ method, params });
          if (method === 'serverRequest/resolved') cleared();
        },
        onExit: () => {},
      });
      try {
        await rpc.request('initialize', { clientInfo: { name: 'gatehouse-test', title: 'test', version: '0' } });
        rpc.notify('initialized');
        const started = (await rpc.request('thread/start', {
          cwd: work,
          approvalPolicy: 'on-request',
          approvalsReviewer: 'user',
          sandbox: 'workspace-write',
          ephemeral: true,
        })) as {
          thread: { id: string };
        };
        const turn = (await rpc.request('turn/start', {
          threadId: started.thread.id,
          input: [{ type: 'text', text: runPrompt(`touch ${join(work, 'probe')}`) }],
          approvalPolicy: 'on-request',
          approvalsReviewer: 'user',
        })) as { turn: { id: string } };
        const id = await askId;
        await rpc.request('turn/interrupt', { threadId: started.thread.id, turnId: turn.turn.id });
        await resolvedSeen;
        const methods = seen.map((n) => n.method);
        const resolved = seen.find((n) => n.method === 'serverRequest/resolved');
        expect((resolved?.params as { requestId?: unknown } | undefined)?.requestId).toBe(id);
        // Observed order with 0.171: the turn ends first, then the ask is cleared.
        expect(methods.indexOf('turn/completed')).toBeLessThan(methods.indexOf('serverRequest/resolved'));
        expect(existsSync(join(work, 'probe'))).toBe(false);
      } finally {
        await rpc.close();
      }
      console.log(`[codex choices] serverRequest/resolved seen in ${seconds(Date.now() - t)}`);
    },
    TEST_TIMEOUT,
  );

  it(
    'AGX-5: the chat agent on the real Codex: a turn Codex ends while an approval waits ends that ask with reason answered-in-agent, nothing runs',
    async () => {
      const t = Date.now();
      const marker = join(work, 'cleared');
      const agent = createCodexAgent({ bin: codex.bin });
      const stopTurn = new AbortController();
      let reason: unknown;
      let asked!: () => void;
      const askedOnce = new Promise<void>((resolve) => (asked = resolve));
      const messages: string[] = [];
      const ctx: TurnContext = {
        session: { id: 's1', title: 't', agent: 'codex', cwd: work, status: 'running', createdAt: 0, updatedAt: 0 },
        prompt: runPrompt(`touch ${marker}`),
        signal: stopTurn.signal,
        async say(message) {
          messages.push(`${message.kind}:${message.text ?? ''}`);
          return { id: String(messages.length), ...message };
        },
        // The human never answers: the ask ends only when its signal aborts, and says why.
        ask: (_tool: string, _input: Record<string, unknown>, extra: AskExtra) =>
          new Promise<GateAnswer>((resolve) => {
            asked();
            extra.signal?.addEventListener(
              'abort',
              () => {
                reason = extra.signal?.reason;
                resolve({ behavior: 'deny', message: 'cancelled', outcome: 'cancelled' });
              },
              { once: true },
            );
          }),
        setSdkSessionId() {},
      };
      const turn = agent.runTurn(ctx);
      await askedOnce;
      // Stopping the turn sends Codex `turn/interrupt` (and nothing else to the ask):
      // the ask ends only through Codex's own `serverRequest/resolved`.
      stopTurn.abort();
      await turn;
      await agent.stop();
      expect(reason).toBe('answered-in-agent');
      expect(messages.at(-1)).toContain('cancelled');
      expect(existsSync(marker)).toBe(false);
      console.log(`[codex choices] cleared by Codex in ${seconds(Date.now() - t)}`);
    },
    TEST_TIMEOUT,
  );
});
