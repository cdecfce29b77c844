/**
 * `--agent acp:CMD`: chat sessions driven by any ACP agent (contract-2 §5; docs/chat.md
 * and docs/integrations.md, "Any ACP agent"), through the SDK's client
 * (`@agentclientprotocol/sdk`). One agent process and one ACP session per chat session,
 * started on its first turn in the session's folder and kept for the next turns (a
 * process that died is started afresh, losing the agent's memory of the conversation).
 *
 * Updates become whole chat messages: the agent's text chunks are joined into one text
 * message (flushed at the next tool call and at the end of the turn), a tool call becomes
 * a tool-use once its input is whole (at its permission ask, else when it ends; its diffs
 * in the input), its completion a tool-result. The agent's
 * permission asks go through the broker like Claude's (`ctx.ask`), mapped with the proxy's
 * rules (permission.ts): allow → `allow_once`, else a reject; the option the human chose
 * on the card (`allow_always` included) only when they chose it.
 * The agent process gets the server's environment minus GATEHOUSE_* (the tokens stay here).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Readable, Writable } from 'node:stream';
import { client, methods, ndJsonStream, PROTOCOL_VERSION, type ClientConnection, type SessionNotification } from '@agentclientprotocol/sdk';
import { canonicalJson } from '../../../protocol/index.ts';
import type { ChatAgent, TurnContext } from '../chatAgent.ts';
import { AGENT_SPAWN, endProcess } from '../endProcess.ts';
import { allowAnswer, CANCELLED, chosenOption, parseAsk, rejectAnswer, requestSpecOf, toolOf, type AcpAnswer, type AcpAsk } from './permission.ts';
import { splitWords } from './words.ts';

/** The prefix of an ACP agent kind: `acp:gemini --acp`. */
export const ACP_AGENT_PREFIX = 'acp:';
export const isAcpAgentKind = (kind: string): kind is `acp:${string}` => kind.startsWith(ACP_AGENT_PREFIX);

type Live = {
  child: ChildProcess;
  connection: ClientConnection;
  acpSessionId: string;
  turn?: TurnState | undefined;
  stderr: string;
};

/** Ends an agent's process (closing its protocol first) and resolves once it exited. */
async function stopProcess(live: Live): Promise<void> {
  live.connection.close();
  await endProcess(live.child);
}

type TurnState = {
  ctx: TurnContext;
  text: string;
  announced: Set<string>;
  resulted: Set<string>;
  /** What the agent told of each tool call so far (its updates merged). */
  calls: Map<string, Record<string, unknown>>;
  requestIds: Map<string, string>;
  /** Messages are said in order: each waits for the one before. */
  chain: Promise<unknown>;
};

function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && !key.startsWith('GATEHOUSE_')) env[key] = value;
  return env;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The text of a tool call's content blocks and raw output, for its tool-result. */
function resultText(update: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const block of Array.isArray(update.content) ? update.content : []) {
    if (isRecord(block) && block.type === 'content' && isRecord(block.content) && typeof block.content.text === 'string') parts.push(block.content.text);
  }
  if (parts.length === 0 && typeof update.rawOutput === 'string') parts.push(update.rawOutput);
  return parts.join('\n').slice(0, 100_000);
}

export function createAcpAgent(spec: `acp:${string}`): ChatAgent & { stop(): Promise<void> } {
  if (!spec.startsWith(ACP_AGENT_PREFIX)) throw new Error(`an ACP agent is named acp:CMD, got ${JSON.stringify(spec)}`);
  const split = splitWords(spec.slice(ACP_AGENT_PREFIX.length));
  if (!split.ok) throw new Error(`acp:CMD: ${split.error}`);
  const [first, ...args] = split.words;
  if (first === undefined) throw new Error('acp:CMD: no command'); // splitWords refuses this already
  const command: string = first;
  const sessions = new Map<string, Promise<Live>>();

  const say = (turn: TurnState, message: Parameters<TurnContext['say']>[0]) => {
    turn.chain = turn.chain.then(() => turn.ctx.say(message)).catch(() => undefined);
    return turn.chain;
  };
  const flushText = (turn: TurnState) => {
    if (!turn.text) return;
    const text = turn.text;
    turn.text = '';
    void say(turn, { role: 'assistant', kind: 'text', text });
  };
  const announce = (turn: TurnState, ask: AcpAsk) => {
    const id = ask.toolCall.toolCallId;
    if (turn.announced.has(id)) return;
    turn.announced.add(id);
    flushText(turn);
    const { toolName, input } = toolOf(ask);
    void say(turn, { role: 'assistant', kind: 'tool-use', toolName, toolUseId: id, input });
  };

  const onUpdate = (live: Live, notification: SessionNotification) => {
    const turn = live.turn;
    if (!turn || notification.sessionId !== live.acpSessionId) return;
    const update = notification.update as unknown as Record<string, unknown>;
    switch (update.sessionUpdate) {
      case 'agent_message_chunk': {
        const content = update.content;
        if (isRecord(content) && content.type === 'text' && typeof content.text === 'string') turn.text += content.text;
        return;
      }
      case 'tool_call':
      case 'tool_call_update': {
        // A tool call is announced once its input is whole (at its permission ask, or when
        // it ends): agents stream it (claude-agent-acp's first `tool_call` has `rawInput: {}`).
        flushText(turn);
        const id = typeof update.toolCallId === 'string' ? update.toolCallId : undefined;
        if (!id) return;
        const merged = { ...turn.calls.get(id) };
        for (const [key, value] of Object.entries(update)) if (value !== undefined && value !== null && key !== 'sessionUpdate') merged[key] = value;
        turn.calls.set(id, merged);
        const status = update.status;
        if ((status === 'completed' || status === 'failed') && !turn.resulted.has(id)) {
          const parsed = parseAsk({ sessionId: notification.sessionId, options: [], toolCall: merged });
          if (!parsed.ok) return;
          turn.resulted.add(id);
          announce(turn, parsed.value);
          const requestId = turn.requestIds.get(id);
          void say(turn, {
            role: 'user',
            kind: 'tool-result',
            toolUseId: id,
            text: resultText(update),
            isError: status === 'failed',
            ...(requestId ? { requestId } : {}),
          });
        }
        return;
      }
      default:
        return;
    }
  };

  /** `signal`: the agent withdrew the ask (`$/cancel_request`): its Gatehouse request is cancelled. */
  const onAsk = async (live: Live, params: unknown, signal: AbortSignal): Promise<AcpAnswer> => {
    const parsed = parseAsk(params);
    const turn = live.turn;
    if (!parsed.ok || !turn) return CANCELLED;
    const ask = parsed.value;
    announce(turn, ask);
    const request = requestSpecOf(ask, { agent: spec, cwd: turn.ctx.session.cwd, idempotencyKey: 'unused' });
    // What the agent told beyond the tool (its options as the card's choices, title, kind); the chat sets agent, session, folder.
    const { agent: _agent, sessionId: _session, cwd: _cwd, toolUseId: _tool, description, ...told } = request.context;
    const answer = await turn.ctx.ask(request.toolName, request.input, {
      toolUseId: ask.toolCall.toolCallId,
      signal,
      context: told,
      ...(typeof description === 'string' ? { description } : {}),
    });
    const id = ask.toolCall.toolCallId;
    if (answer.requestId) turn.requestIds.set(id, answer.requestId);
    // The option the human chose on the card, when the agent offered it for this decision.
    const chosen = chosenOption(ask.options, answer.agentChoice?.id, answer.behavior === 'allow' ? 'allow' : 'deny');
    // ACP cannot carry an edited input: an edit is a reject (never run what was not approved).
    if (answer.behavior === 'allow' && canonicalJson(answer.updatedInput) === canonicalJson(request.input))
      return chosen ? { outcome: { outcome: 'selected', optionId: chosen.optionId } } : allowAnswer(ask.options);
    const message = answer.behavior === 'deny' ? answer.message : 'Allowed with an edited input, which an ACP agent cannot take: rejected.';
    // Not every agent reports a refused call (Gemini CLI does not): the chat shows it now.
    if (!turn.resulted.has(id)) {
      turn.resulted.add(id);
      void say(turn, {
        role: 'user',
        kind: 'tool-result',
        toolUseId: id,
        text: message,
        isError: true,
        ...(answer.requestId ? { requestId: answer.requestId } : {}),
      });
    }
    if (answer.behavior === 'deny' && answer.outcome === 'cancelled') return CANCELLED;
    return chosen && answer.behavior === 'deny' ? { outcome: { outcome: 'selected', optionId: chosen.optionId } } : rejectAnswer(ask.options);
  };

  async function start(cwd: string): Promise<Live> {
    const child = spawn(command, args, { cwd, env: childEnv(), stdio: ['pipe', 'pipe', 'pipe'], ...AGENT_SPAWN });
    const live = { child, stderr: '' } as Live;
    child.stderr!.on('data', (chunk: Buffer) => (live.stderr = (live.stderr + chunk.toString('utf8')).slice(-4000)));
    child.stdin!.on('error', () => {});
    const failed = new Promise<never>((_, reject) => {
      child.once('error', (error) => reject(new Error(`cannot start ${JSON.stringify(command)}: ${(error as NodeJS.ErrnoException).code ?? error.message}`)));
      child.once('exit', (code, signal) =>
        reject(new Error(`the agent exited (${signal ?? code})${live.stderr ? `: ${live.stderr.trim().slice(-500)}` : ''}`)),
      );
    });
    failed.catch(() => {});
    const app = client({ name: 'gatehouse' })
      .onRequest(methods.client.session.requestPermission, (c) => onAsk(live, c.params, c.signal))
      .onNotification(methods.client.session.update, (c) => onUpdate(live, c.params));
    live.connection = app.connect(
      ndJsonStream(Writable.toWeb(child.stdin!) as WritableStream<Uint8Array>, Readable.toWeb(child.stdout!) as ReadableStream<Uint8Array>),
    );
    const agent = live.connection.agent;
    await Promise.race([
      agent.request(methods.agent.initialize, {
        protocolVersion: PROTOCOL_VERSION,
        clientCapabilities: { fs: { readTextFile: false, writeTextFile: false }, terminal: false },
        clientInfo: { name: 'gatehouse', version: '0.1.0' },
      }),
      failed,
    ]);
    const created = await Promise.race([agent.request(methods.agent.session.new, { cwd, mcpServers: [] }), failed]);
    live.acpSessionId = created.sessionId;
    return live;
  }

  return {
    name: spec,
    async runTurn(ctx: TurnContext) {
      let pending = sessions.get(ctx.session.id);
      if (pending) {
        const live = await pending.catch(() => undefined);
        if (!live || live.child.exitCode !== null || live.child.signalCode !== null) pending = undefined;
      }
      if (!pending) {
        pending = start(ctx.session.cwd);
        sessions.set(ctx.session.id, pending);
      }
      let live: Live;
      try {
        live = await pending;
      } catch (error) {
        sessions.delete(ctx.session.id);
        throw error;
      }
      const turn: TurnState = { ctx, text: '', announced: new Set(), resulted: new Set(), calls: new Map(), requestIds: new Map(), chain: Promise.resolve() };
      live.turn = turn;
      const onAbort = () => void live.connection.agent.notify(methods.agent.session.cancel, { sessionId: live.acpSessionId }).catch(() => {});
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      try {
        const result = await live.connection.agent.request(methods.agent.session.prompt, {
          sessionId: live.acpSessionId,
          prompt: [{ type: 'text', text: ctx.prompt }],
        });
        flushText(turn);
        await turn.chain;
        const stop = result.stopReason;
        await ctx.say({
          role: 'system',
          kind: 'turn-end',
          text: stop === 'end_turn' ? 'The turn ended.' : `The turn ended (${stop}).`,
          isError: stop === 'refusal',
        });
      } catch (error) {
        flushText(turn);
        await turn.chain;
        await ctx.say({ role: 'system', kind: 'error', text: `The agent stopped: ${(error as Error).message}`.slice(0, 2000), isError: true });
        await ctx.say({ role: 'system', kind: 'turn-end', text: 'The turn ended with an error.', isError: true });
      } finally {
        ctx.signal.removeEventListener('abort', onAbort);
        live.turn = undefined;
      }
    },
    async stop() {
      const stopping = [...sessions.values()].map((pending) => pending.then(stopProcess, () => {}));
      sessions.clear();
      await Promise.all(stopping);
    },
  };
}
