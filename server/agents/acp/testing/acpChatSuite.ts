/**
 * The real-agent suite of `serve --agent acp:CMD` chat sessions, shared by every ACP
 * agent: one real server process (and so one agent process) per file; the test decides
 * on the WebSocket like a browser does. Each phase prints its timing.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentChoicesOf } from '../../../../protocol/index.ts';
import { connectClient, startServerProcess, type Frame, type ServerProcess, type TestClient } from '../../../testing/index.ts';
import { FINAL_TEXT, FIRST_TEXT, runPrompt, type AgentUnderTest, type StartedAgent } from './agents.ts';

/** Real agents on shared cores: a turn that starts an agent can take well over vitest's default 20 s under load. */
const TEST_TIMEOUT = 90_000;
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const quote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;

/** Linux `/proc`: each process's id, parent, process group and command line. */
function processes(): Array<{ pid: number; ppid: number; pgrp: number; cmdline: string }> {
  const found: Array<{ pid: number; ppid: number; pgrp: number; cmdline: string }> = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // After the command's name in parentheses: state, ppid, pgrp.
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
      const [, ppid, pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      found.push({ pid: Number(entry), ppid: Number(ppid), pgrp: Number(pgrp), cmdline: readFileSync(`/proc/${entry}/cmdline`, 'latin1') });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

export function acpChatSuite(agent: AgentUnderTest): void {
  describe(`--agent acp:${agent.name} chat sessions (real agent)`, () => {
    let started: StartedAgent | undefined;
    let server: ServerProcess;
    let ws: TestClient;
    let root: string;
    let agentKind: string;
    let sessionId: string;
    const fileStarted = Date.now();

    beforeAll(async () => {
      const t = Date.now();
      root = mkdtempSync(join(tmpdir(), `gh-acp-chat-${agent.name}-`));
      started = await agent.start();
      // A short path to the agent: acp:CMD names the agent on every card (at most 200 characters).
      mkdirSync(join(root, 'bin'));
      const link = join(root, 'bin', agent.name);
      symlinkSync(started.command[0]!, link);
      agentKind = `acp:${[link, ...started.command.slice(1)].map(quote).join(' ')}`;
      server = await startServerProcess({ args: ['--agent', agentKind], env: started.env });
      ws = await connectClient(server.wsUrl());
      await ws.waitFor((frame) => frame.type === 'welcome');
      console.log(`[acp chat ${agent.name}] agent installed, fake model and server up in ${seconds(Date.now() - t)}`);
    }, 240_000);

    let serverStopped = false;
    afterAll(async () => {
      await ws?.close();
      if (!serverStopped) await server?.stop();
      await started?.stop();
      if (root) rmSync(root, { recursive: true, force: true });
      console.log(`[acp chat ${agent.name}] whole file in ${seconds(Date.now() - fileStarted)}`);
    });

    const chatOf = (id: string) => (frame: Frame) => frame.type === 'chat-message' && frame.sessionId === id;

    async function turn(existing: string | undefined, command: string) {
      const body = { prompt: runPrompt(command) };
      const from = ws.frames.length;
      const answer = existing
        ? await server.api(`/api/sessions/${existing}/messages`, { method: 'POST', json: body })
        : await server.api('/api/sessions', { method: 'POST', json: body });
      expect(answer.status).toBe(existing ? 202 : 201);
      const id: string = answer.body.session.id;
      const request = await ws.waitFor((frame) => frame.type === 'permission-request' && frame.context?.sessionId === id, {
        timeoutMs: 60_000,
        fromIndex: from,
      });
      return { id, request, from };
    }
    const turnEnd = (id: string, from: number) =>
      ws.waitFor((frame) => chatOf(id)(frame) && frame.message.kind === 'turn-end', { timeoutMs: 60_000, fromIndex: from });

    it(
      'ACP-12: a turn asks through the broker (agent acp:…); allowed on the socket, the command runs; whole messages in order',
      async () => {
        const t = Date.now();
        const marker = join(root, 'allowed');
        const { id, request, from } = await turn(undefined, `touch ${marker}`);
        sessionId = id;
        expect(request.toolName).toBe('Bash');
        expect(request.input.command).toBe(`touch ${marker}`);
        expect(request.context.agent).toBe(agentKind);
        ws.send({ type: 'permission-response', requestId: request.id, decision: 'allow', clientMsgId: crypto.randomUUID() });
        await turnEnd(id, from);
        expect(existsSync(marker)).toBe(true);
        const messages = ws.frames.filter(chatOf(id)).map((frame) => frame.message);
        expect(messages.map((m) => m.kind)).toEqual(['text', 'text', 'tool-use', 'tool-result', 'text', 'turn-end']);
        expect(messages[0]).toMatchObject({ role: 'user', text: runPrompt(`touch ${marker}`) });
        expect(messages[1]).toMatchObject({ role: 'assistant', text: FIRST_TEXT });
        expect(messages[2]).toMatchObject({ toolName: 'Bash', input: { command: `touch ${marker}` } });
        expect(messages[3]).toMatchObject({ kind: 'tool-result', isError: false, requestId: request.id, toolUseId: messages[2].toolUseId });
        // Streamed chunks arrive as one whole message.
        expect(messages[4]).toMatchObject({ role: 'assistant', text: FINAL_TEXT.join('') });
        console.log(`[acp chat ${agent.name}] allow turn in ${seconds(Date.now() - t)}`);
      },
      TEST_TIMEOUT,
    );

    it(
      'ACP-12: the next turn of the session reuses the agent; denied, the command does not run',
      async () => {
        const t = Date.now();
        const marker = join(root, 'denied');
        const { id, request, from } = await turn(sessionId, `touch ${marker}`);
        expect(id).toBe(sessionId);
        ws.send({ type: 'permission-response', requestId: request.id, decision: 'deny', message: 'no', clientMsgId: crypto.randomUUID() });
        await turnEnd(id, from);
        expect(existsSync(marker)).toBe(false);
        const result = ws.frames
          .slice(from)
          .filter(chatOf(id))
          .find((frame) => frame.message.kind === 'tool-result');
        expect(result?.message).toMatchObject({ isError: true, requestId: request.id });
        console.log(`[acp chat ${agent.name}] deny turn in ${seconds(Date.now() - t)}`);
      },
      TEST_TIMEOUT,
    );

    it(
      "ACP-12: stopping the turn cancels its request and the agent's prompt; nothing runs",
      async () => {
        const t = Date.now();
        const marker = join(root, 'stopped');
        const { id, request, from } = await turn(sessionId, `touch ${marker}`);
        expect((await server.api(`/api/sessions/${id}/stop`, { method: 'POST' })).body).toMatchObject({ stopped: true });
        await ws.waitFor((frame) => frame.type === 'permission-cancelled' && frame.requestId === request.id, { timeoutMs: 10_000, fromIndex: from });
        const end = await turnEnd(id, from);
        expect(end.message.text).toContain('cancelled');
        expect(existsSync(marker)).toBe(false);
        console.log(`[acp chat ${agent.name}] stopped turn in ${seconds(Date.now() - t)}`);
      },
      TEST_TIMEOUT,
    );

    it(
      "AGX-7: in a chat, the agent's own allow_always chosen on the card is what the agent gets: the command runs, and the same command in that session runs again without an ask",
      async () => {
        const t = Date.now();
        // A session of its own (the agent keeps its "always" for the session); mkdir, which no other test runs.
        const marker = join(root, 'always-1');
        const { id, request, from } = await turn(undefined, `mkdir -p ${marker}`);
        const always = agentChoicesOf(request.context).find((c) => c.kind === 'allow_always');
        expect(always, 'the agent offers an allow_always option').toBeDefined();
        expect(request.context.acpOptions).toContainEqual(expect.objectContaining({ optionId: always!.id, kind: 'allow_always' }));
        ws.send({ type: 'permission-response', requestId: request.id, decision: 'allow', agentChoice: always!.id, clientMsgId: crypto.randomUUID() });
        await turnEnd(id, from);
        expect(existsSync(marker)).toBe(true);
        rmSync(marker, { recursive: true });
        const next = ws.frames.length;
        expect((await server.api(`/api/sessions/${id}/messages`, { method: 'POST', json: { prompt: runPrompt(`mkdir -p ${marker}`) } })).status).toBe(202);
        await turnEnd(id, next);
        expect(ws.frames.slice(next).some((frame) => frame.type === 'permission-request' && frame.context?.sessionId === id)).toBe(false);
        expect(existsSync(marker)).toBe(true);
        console.log(`[acp chat ${agent.name}] allow_always in ${seconds(Date.now() - t)}`);
      },
      TEST_TIMEOUT,
    );

    it('ACP-13: a browser cannot pick another command or an inherited name as the agent', async () => {
      for (const name of ['acp:sh -c "touch /tmp/pwned"', 'constructor', 'toString', '__proto__', 'acp:']) {
        const answer = await server.api('/api/sessions', { method: 'POST', json: { prompt: 'hi', agent: name } });
        expect(answer.status, name).toBe(400);
        expect(answer.body.error.message).toContain('not available');
      }
    });

    it('ACP-12: the server’s stop ends the agent’s processes (its whole process group) and returns only once they exited', async () => {
      // The agent the sessions above started: the server's child, run through the link,
      // the leader of a process group of its own (the processes it starts are in it).
      const link = join(root, 'bin', agent.name);
      const agents = processes().filter((p) => p.ppid === server.proc.pid && p.cmdline.includes(link));
      expect(agents.length).toBeGreaterThan(0);
      for (const leader of agents) expect(leader.pgrp).toBe(leader.pid);
      await ws.close();
      serverStopped = true;
      await server.stop();
      const groups = new Set(agents.map((a) => a.pgrp));
      expect(processes().filter((p) => groups.has(p.pgrp))).toEqual([]);
    });
  });
}
