/**
 * The real-agent suite of `bin/gatehouse acp`, shared by every ACP agent: one real agent
 * process per file (its start costs about 1.3 s), behind a recording tap (tap.mjs), behind
 * the proxy, driven by a scripted editor, asking a real Gatehouse server process. The fake
 * model runs whatever follows `RUN: ` in the prompt as one shell call, then ends the turn.
 * Each phase prints its timing.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentChoicesOf, type RequestView } from '../../../../protocol/index.ts';
import { startScriptedEditor, type EditorMessage, type ScriptedEditor } from '../../testing/acpEditor.ts';
import { startTestGatehouse, type TestGatehouse } from '../../testing/gatehouseServer.ts';
import { LineSplitter, messageOf } from '../lines.ts';
import { runPrompt, type AgentUnderTest } from './agents.ts';

const TAP = fileURLToPath(new URL('./tap.mjs', import.meta.url));

function splitLines(bytes: Buffer): Buffer[] {
  const lines: Buffer[] = [];
  const splitter = new LineSplitter((line) => lines.push(line));
  splitter.push(bytes);
  splitter.end();
  return lines;
}

/** Real agents on shared cores: a turn that starts an agent can take well over vitest's default 20 s under load. */
const TEST_TIMEOUT = 90_000;
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** `noEditor`: also run `--no-editor` end to end (one more agent start, about 1.5 s). */
export function acpProxySuite(agent: AgentUnderTest, options: { noEditor?: boolean } = {}): void {
  describe(`bin/gatehouse acp -- ${agent.name} (real agent)`, () => {
    let gate: TestGatehouse;
    let editor: ScriptedEditor;
    let root: string;
    let work: string;
    let out: string;
    let tapDir: string;
    let sessionId: string;
    let env: NodeJS.ProcessEnv;
    let tapLink: string;
    let stopAgent: () => Promise<void> = async () => {};
    /** Asks whose answer came from Gatehouse or a session/cancel (the editor's reply is dropped). */
    const answeredByProxy = new Set<string>();
    const fileStarted = Date.now();

    beforeAll(async () => {
      let t = Date.now();
      // The agent's install and fake model, and the Gatehouse server, start side by side.
      const [started, server] = await Promise.all([agent.start(), startTestGatehouse()]);
      stopAgent = started.stop;
      gate = server;
      console.log(`[acp ${agent.name}] agent ready (installed, fake model up) and Gatehouse server up in ${seconds(Date.now() - t)}`);
      root = mkdtempSync(join(tmpdir(), `gh-acp-${agent.name}-`));
      work = join(root, 'work');
      out = join(root, 'out');
      tapDir = join(root, 'tap');
      for (const dir of [work, out, tapDir, join(root, 'bin')]) mkdirSync(dir, { recursive: true });
      // The tap, named like the agent: the proxy names the agent by its command's basename.
      tapLink = join(root, 'bin', agent.name);
      symlinkSync(TAP, tapLink);
      const agentToken = gate.agentToken;
      env = {};
      for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('GATEHOUSE_') && key !== 'DEBUG') env[key] = value;
      for (const [key, value] of Object.entries(started.env)) {
        if (value === undefined) delete env[key];
        else env[key] = value;
      }
      Object.assign(env, {
        ACP_TAP_COMMAND: JSON.stringify(started.command),
        ACP_TAP_DIR: tapDir,
        GATEHOUSE_URL: gate.url,
        // The agent role is all the proxy needs (contract-2 §1); it never reads the owner token.
        GATEHOUSE_AGENT_TOKEN: agentToken,
        GATEHOUSE_DATA_DIR: gate.dataDir,
      });
      t = Date.now();
      editor = startScriptedEditor({ args: ['--', tapLink], env, cwd: work });
      const init = await editor.request(
        'initialize',
        {
          protocolVersion: 1,
          clientCapabilities: { fs: { readTextFile: false, writeTextFile: false }, terminal: false },
          clientInfo: { name: 'scripted-editor', version: '0.0.1' },
        },
        60_000,
      );
      expect(init.error).toBeUndefined();
      const created = await editor.request('session/new', { cwd: work, mcpServers: [] }, 60_000);
      expect(created.error).toBeUndefined();
      sessionId = (created.result as { sessionId: string }).sessionId;
      console.log(`[acp ${agent.name}] proxy + agent started, initialize + session/new in ${seconds(Date.now() - t)}`);
    }, 240_000);

    afterAll(async () => {
      await editor?.close().catch(() => {});
      await stopAgent();
      await gate?.stop();
      if (root) rmSync(root, { recursive: true, force: true });
      console.log(`[acp ${agent.name}] whole file in ${seconds(Date.now() - fileStarted)}`);
    });

    /** Send a prompt that runs `command`; resolves with the editor's copy of the ask and the Gatehouse request. */
    async function promptAndAsk(command: string, inSession = sessionId) {
      const prompt = editor.request('session/prompt', { sessionId: inSession, prompt: [{ type: 'text', text: runPrompt(command) }] }, 60_000);
      const ask = await editor.next((m) => m.method === 'session/request_permission', 60_000);
      const request = await gate.human.nextPending(60_000);
      return { prompt, ask, request };
    }

    const optionOf = (ask: EditorMessage, kind: string) =>
      (ask.params as { options: Array<{ optionId: string; kind: string }> }).options.find((o) => o.kind === kind)!.optionId;

    async function finished(id: string): Promise<RequestView & { reason?: string }> {
      const answer = await gate.server.api(`/api/permission-requests/${encodeURIComponent(id)}?wait=10`);
      return answer.body;
    }

    it(
      "ACP-1, ACP-2: allowed in Gatehouse: the command runs, the editor's copy is withdrawn with $/cancel_request",
      async () => {
        const t = Date.now();
        const marker = join(out, 'allowed');
        const command = `touch ${marker}`;
        const { prompt, ask, request } = await promptAndAsk(command);
        const toolCall = (ask.params as { toolCall: { toolCallId: string } }).toolCall;
        expect(request.toolName).toBe('Bash');
        expect(request.input.command).toBe(command);
        expect(request.context).toMatchObject({ agent: `acp:${agent.name}`, sessionId, toolUseId: toolCall.toolCallId, cwd: work });
        expect((request.context as { acpOptions?: unknown[] }).acpOptions?.length).toBeGreaterThan(0);
        expect((await gate.human.decide(request.id, { decision: 'allow' })).status).toBe(200);
        const withdrawn = await editor.next((m) => m.method === '$/cancel_request');
        expect(withdrawn.params).toEqual({ requestId: ask.id });
        answeredByProxy.add(JSON.stringify(ask.id));
        // A real editor answers a withdrawn request late (cancelled, or what the human clicked): never passed on.
        editor.respond(ask.id, { outcome: { outcome: 'selected', optionId: optionOf(ask, 'reject_once') } });
        const result = await prompt;
        expect(result.result).toMatchObject({ stopReason: 'end_turn' });
        expect(existsSync(marker)).toBe(true);
        console.log(`[acp ${agent.name}] allow in ${seconds(Date.now() - t)}`);
      },
      TEST_TIMEOUT,
    );

    it(
      'ACP-1, ACP-2: denied in Gatehouse: the command does not run, the agent gets its reject_once option',
      async () => {
        const t = Date.now();
        const marker = join(out, 'denied');
        const { prompt, ask, request } = await promptAndAsk(`touch ${marker}`);
        expect((await gate.human.decide(request.id, { decision: 'deny', message: 'not now' })).status).toBe(200);
        const withdrawn = await editor.next((m) => m.method === '$/cancel_request');
        expect(withdrawn.params).toEqual({ requestId: ask.id });
        answeredByProxy.add(JSON.stringify(ask.id));
        const result = await prompt;
        expect(result.result).toMatchObject({ stopReason: 'end_turn' });
        expect(existsSync(marker)).toBe(false);
        console.log(`[acp ${agent.name}] deny in ${seconds(Date.now() - t)}`);
      },
      TEST_TIMEOUT,
    );

    it(
      'ACP-3: answered in the editor first: its answer reaches the agent, the Gatehouse request ends cancelled answered-in-editor',
      async () => {
        const t = Date.now();
        const marker = join(out, 'editor');
        const { prompt, ask, request } = await promptAndAsk(`touch ${marker}`);
        editor.respond(ask.id, { outcome: { outcome: 'selected', optionId: optionOf(ask, 'allow_once') } });
        const result = await prompt;
        expect(result.result).toMatchObject({ stopReason: 'end_turn' });
        expect(existsSync(marker)).toBe(true);
        const view = await finished(request.id);
        expect(view).toMatchObject({ status: 'cancelled', reason: 'answered-in-editor' });
        // Nothing was withdrawn from the editor for this ask.
        expect(
          editor.received.some(
            (line) =>
              messageOf(line)?.method === '$/cancel_request' &&
              JSON.stringify((messageOf(line)?.params as { requestId?: unknown })?.requestId) === JSON.stringify(ask.id),
          ),
        ).toBe(false);
        console.log(`[acp ${agent.name}] editor first in ${seconds(Date.now() - t)}`);
      },
      TEST_TIMEOUT,
    );

    it(
      "AGX-7: the agent's own allow_always, chosen on the card, is the option the agent gets (its id exactly, its wording on the card); the command runs",
      async () => {
        const t = Date.now();
        // A session of its own: the agent keeps its "always" for the rest of that session (claude-agent-acp's
        // may even switch the session's mode), and the later tests' commands must still ask.
        const own = await editor.request('session/new', { cwd: work, mcpServers: [] }, 60_000);
        const ownSession = (own.result as { sessionId: string }).sessionId;
        const marker = join(out, 'always');
        const { prompt, ask, request } = await promptAndAsk(`mkdir -p ${marker}`, ownSession);
        const options = (ask.params as { options: Array<{ optionId: string; kind: string; name?: string }> }).options;
        const always = options.find((o) => o.kind === 'allow_always');
        expect(always, 'the agent offers an allow_always option').toBeDefined();
        // The card's choices are the agent's options, in its order, with its names.
        expect(agentChoicesOf(request.context).map((c) => [c.id, c.kind, c.label])).toEqual(
          options
            .filter((o) => ['allow_once', 'allow_always', 'reject_once', 'reject_always'].includes(o.kind))
            .map((o) => [o.optionId, o.kind, o.name ?? o.optionId]),
        );
        expect((await gate.human.decide(request.id, { decision: 'allow', agentChoice: always!.optionId })).status).toBe(200);
        await editor.next((m) => m.method === '$/cancel_request');
        answeredByProxy.add(JSON.stringify(ask.id));
        editor.respond(ask.id, { outcome: { outcome: 'selected', optionId: optionOf(ask, 'reject_once') } });
        expect((await prompt).result).toMatchObject({ stopReason: 'end_turn' });
        expect(existsSync(marker)).toBe(true);
        // What the agent itself received for that ask: exactly the chosen option.
        const answers = splitLines(readFileSync(join(tapDir, 'agent-stdin.bin')))
          .map((line) => messageOf(line))
          .filter((m) => m !== undefined && m.method === undefined && JSON.stringify(m.id) === JSON.stringify(ask.id));
        expect(answers.map((m) => (m as { result?: unknown }).result)).toEqual([{ outcome: { outcome: 'selected', optionId: always!.optionId } }]);
        console.log(`[acp ${agent.name}] allow_always in ${seconds(Date.now() - t)}`);
      },
      TEST_TIMEOUT,
    );

    it(
      "ACP-4: session/cancel: the agent's ask is answered cancelled, the Gatehouse request is cancelled, nothing runs",
      async () => {
        const t = Date.now();
        const marker = join(out, 'cancelled');
        const { prompt, ask, request } = await promptAndAsk(`touch ${marker}`);
        editor.notify('session/cancel', { sessionId });
        answeredByProxy.add(JSON.stringify(ask.id));
        // What a real editor does on its own cancel: answer its copy `cancelled` (dropped: already answered).
        // (`_meta` tells it apart from the proxy's own, otherwise identical, answer.)
        editor.respond(ask.id, { outcome: { outcome: 'cancelled' }, _meta: { from: 'editor' } });
        const result = await prompt;
        expect(result.result).toMatchObject({ stopReason: 'cancelled' });
        const view = await finished(request.id);
        expect(view).toMatchObject({ status: 'cancelled', reason: 'session-cancelled' });
        expect(existsSync(marker)).toBe(false);
        console.log(`[acp ${agent.name}] session/cancel in ${seconds(Date.now() - t)}`);
      },
      TEST_TIMEOUT,
    );

    if (options.noEditor)
      it(
        'ACP-9: --no-editor: Gatehouse alone answers; the editor never sees the ask',
        async () => {
          const t = Date.now();
          const tapDir2 = join(root, 'tap-no-editor');
          mkdirSync(tapDir2);
          const alone = startScriptedEditor({ args: ['--no-editor', '--', tapLink], env: { ...env, ACP_TAP_DIR: tapDir2 }, cwd: work });
          try {
            await alone.request(
              'initialize',
              { protocolVersion: 1, clientCapabilities: { fs: { readTextFile: false, writeTextFile: false }, terminal: false } },
              60_000,
            );
            const created = await alone.request('session/new', { cwd: work, mcpServers: [] }, 60_000);
            console.log(`[acp ${agent.name}] --no-editor: proxy + agent started in ${seconds(Date.now() - t)}`);
            const marker = join(out, 'no-editor');
            const prompt = alone.request(
              'session/prompt',
              { sessionId: (created.result as { sessionId: string }).sessionId, prompt: [{ type: 'text', text: runPrompt(`touch ${marker}`) }] },
              60_000,
            );
            const request = await gate.human.nextPending(60_000);
            expect(request.context).toMatchObject({ agent: `acp:${agent.name}` });
            expect((await gate.human.decide(request.id, { decision: 'allow' })).status).toBe(200);
            expect((await prompt).result).toMatchObject({ stopReason: 'end_turn' });
            expect(existsSync(marker)).toBe(true);
            expect(
              alone.received.some((line) => messageOf(line)?.method === 'session/request_permission' || messageOf(line)?.method === '$/cancel_request'),
            ).toBe(false);
            console.log(`[acp ${agent.name}] --no-editor: turn done at ${seconds(Date.now() - t)}`);
          } finally {
            await alone.close();
          }
          console.log(`[acp ${agent.name}] --no-editor (own agent process) in ${seconds(Date.now() - t)}`);
        },
        TEST_TIMEOUT,
      );

    it('ACP-5: every message passes byte for byte; only the permission flow differs', async () => {
      const exit = await editor.close();
      expect(exit.code).not.toBeNull();
      const agentOut = splitLines(readFileSync(join(tapDir, 'agent-stdout.bin')));
      const agentIn = splitLines(readFileSync(join(tapDir, 'agent-stdin.bin')));
      // Agent -> editor: identical, plus the proxy's own $/cancel_request lines.
      const ownToEditor = editor.received.filter((line) => messageOf(line)?.method === '$/cancel_request');
      expect(ownToEditor.length).toBe(4); // allow, deny, allow_always (AGX-7), session/cancel
      const passedToEditor = editor.received.filter((line) => !ownToEditor.includes(line));
      expect(Buffer.concat(passedToEditor).equals(Buffer.concat(agentOut))).toBe(true);
      // Editor -> agent: identical, minus the editor's replies to asks the proxy answered,
      // plus the proxy's answers to those asks (exactly one per ask).
      const isProxyAnswered = (line: Buffer) => {
        const message = messageOf(line);
        return message !== undefined && message.method === undefined && answeredByProxy.has(JSON.stringify(message.id));
      };
      const expectedFromEditor = editor.sent.filter((line) => !isProxyAnswered(line));
      const fromEditor = agentIn.filter((line) => editor.sent.some((sent) => sent.equals(line)));
      expect(Buffer.concat(fromEditor).equals(Buffer.concat(expectedFromEditor))).toBe(true);
      const fromProxy = agentIn.filter((line) => !editor.sent.some((sent) => sent.equals(line)));
      expect(fromProxy.map((line) => JSON.stringify(messageOf(line)?.id)).sort()).toEqual([...answeredByProxy].sort());
    });
  });
}
