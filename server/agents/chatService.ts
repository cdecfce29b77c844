/**
 * Runs chat turns and serves the chat API (docs/chat.md):
 *   GET  /api/sessions                 {sessions: [...]}, newest first
 *   POST /api/sessions                 {prompt, agent?, cwd?, title?} -> 201 {session}; the turn runs
 *   GET  /api/sessions/:id/messages    {session, messages: [{seq?, timestamp, message}]}
 *   POST /api/sessions/:id/messages    {prompt} -> 202 {session}; 409 while a turn runs
 *   POST /api/sessions/:id/stop        aborts the running turn (its requests are cancelled)
 */
import { Hono } from 'hono';
import { existsSync, realpathSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { z } from 'zod';
import {
  type ChatSession,
  ERROR_CODES,
  type ErrorCode,
  parseWith,
  type SessionAnswer,
  type SessionList,
  type SessionMessages,
  type SessionStopped,
} from '../../protocol/index.ts';
import { errorResponseRaw } from '../http/errors.ts';
import type { Logger } from '../log.ts';
import type { ChatAgent, TurnContext } from './chatAgent.ts';
import { askPermission, type ChoiceLookup, type GateHost } from './permissionGate.ts';
import type { SessionStore } from './sessions.ts';

export type AgentKind = 'demo' | 'claude' | 'codex' | `acp:${string}`;

/** Claude when the environment can reach it (an API key, a base URL, or a Claude Code
 *  login), else the demo agent. */
export function defaultAgentKind(env: NodeJS.ProcessEnv = process.env): AgentKind {
  if (env.ANTHROPIC_API_KEY || env.ANTHROPIC_BASE_URL || env.ANTHROPIC_AUTH_TOKEN || env.CLAUDE_CODE_OAUTH_TOKEN) return 'claude';
  const home = env.HOME || homedir();
  if (existsSync(join(home, '.claude', '.credentials.json'))) return 'claude';
  return 'demo';
}

const startBody = z.object({
  prompt: z.string().min(1).max(100_000),
  // Only an agent the server was started with (checked below): a browser never names a command.
  agent: z.string().min(1).max(1000).optional(),
  cwd: z.string().min(1).max(4096).optional(),
  title: z.string().max(200).optional(),
});
const promptBody = z.object({ prompt: z.string().min(1).max(100_000) });

export class ChatService {
  private readonly running = new Map<string, AbortController>();
  private readonly turns = new Set<Promise<void>>();
  constructor(
    private readonly deps: {
      host: GateHost;
      /** The agent's own choice of each decision (server/agentChoiceBook.ts). */
      choices?: ChoiceLookup;
      sessions: SessionStore;
      agents: Partial<Record<AgentKind, ChatAgent>>;
      defaultAgent: AgentKind;
      defaultCwd: (agent: AgentKind) => string;
      /** Folders a session may be started in (with their subfolders). A browser must not
       *  point an agent at `/` or the home folder: in the default mode Claude Code reads
       *  inside its folder without asking, so the folder is the boundary. */
      allowedCwdRoots: string[];
      requestTimeoutMs: number;
      logger: Logger;
    },
  ) {}

  start(spec: { prompt: string; agent?: AgentKind | undefined; cwd?: string | undefined; title?: string | undefined }): ChatSession {
    const kind = spec.agent ?? this.deps.defaultAgent;
    if (!this.hasAgent(kind)) throw new Error(`the ${kind} agent is not available`);
    const session = this.deps.sessions.create({
      title: spec.title ?? (spec.prompt.split('\n')[0] ?? '').slice(0, 80),
      agent: kind,
      cwd: spec.cwd ?? this.deps.defaultCwd(kind),
    });
    this.runTurn(session, spec.prompt);
    return session;
  }

  send(sessionId: string, prompt: string): ChatSession | 'busy' | undefined {
    const session = this.deps.sessions.get(sessionId);
    if (!session) return undefined;
    if (this.running.has(sessionId)) return 'busy';
    this.runTurn(session, prompt);
    return session;
  }

  /** The human's Stop: aborts the running turn (its waiting requests are cancelled and the
   *  agent's own abort path runs) and says so in the conversation. */
  stopTurn(sessionId: string): boolean {
    const controller = this.running.get(sessionId);
    if (!controller || controller.signal.aborted) return false;
    controller.abort();
    void this.deps.sessions.add(sessionId, { role: 'system', kind: 'text', text: 'Stopped: you interrupted this turn; its waiting requests were cancelled.' });
    return true;
  }

  /** At start: a session still marked running was running in a server that is gone (a
   *  crash, kill -9, a restart). Its agent went with it, so it must not look alive: it
   *  says so and is idle again (a new message starts a new turn). Returns their ids. */
  async recoverInterrupted(): Promise<string[]> {
    const stale = this.deps.sessions.list().filter((s) => s.status === 'running' && !this.running.has(s.id));
    for (const session of stale) {
      await this.deps.sessions.add(session.id, {
        role: 'system',
        kind: 'error',
        text: 'The agent stopped when the Gatehouse server stopped: this turn did not finish. Send a message to start a new one.',
        isError: true,
      });
      await this.deps.sessions.add(session.id, { role: 'system', kind: 'turn-end', text: 'Interrupted by a server restart.', isError: true });
      await this.deps.sessions.setStatus(session.id, 'idle');
      this.deps.logger.warn('chat session interrupted by a restart', { session: session.id });
    }
    return stale.map((s) => s.id);
  }

  /** An own key of the agents table: never `constructor` or another inherited name. */
  hasAgent(kind: string): kind is AgentKind {
    return Object.hasOwn(this.deps.agents, kind) && this.deps.agents[kind as AgentKind] !== undefined;
  }

  isRunning(sessionId: string): boolean {
    return this.running.has(sessionId);
  }

  private runTurn(session: ChatSession, prompt: string): void {
    const agent = this.hasAgent(session.agent) ? this.deps.agents[session.agent] : undefined;
    const controller = new AbortController();
    this.running.set(session.id, controller);
    const sessions = this.deps.sessions;
    const ctx: TurnContext = {
      session,
      prompt,
      signal: controller.signal,
      say: (message) => sessions.add(session.id, message),
      ask: (toolName, input, extra) =>
        askPermission(
          this.deps.host,
          {
            toolName,
            input,
            timeoutMs: this.deps.requestTimeoutMs,
            // Stopping the turn cancels its open requests, whatever the agent does.
            signal: extra.signal ? AbortSignal.any([extra.signal, controller.signal]) : controller.signal,
            context: {
              ...extra.context,
              sessionId: session.id,
              agent: session.agent,
              cwd: session.cwd,
              toolUseId: extra.toolUseId,
              ...(extra.description ? { description: extra.description.slice(0, 10_000) } : {}),
              ...(extra.suggestions ? { suggestions: extra.suggestions } : {}),
              ...(extra.blockedPath ? { blockedPath: extra.blockedPath } : {}),
            },
          },
          this.deps.choices,
        ),
      sdkSessionId: sessions.sdkSessionId(session.id),
      setSdkSessionId: (id) => sessions.setSdkSessionId(session.id, id),
    };
    const turn = (async () => {
      await sessions.setStatus(session.id, 'running');
      await sessions.add(session.id, { role: 'user', kind: 'text', text: prompt });
      try {
        if (!agent) throw new Error(`the ${session.agent} agent is not available`);
        await agent.runTurn(ctx);
      } catch (error) {
        await sessions.add(session.id, { role: 'system', kind: 'error', text: `The agent failed: ${(error as Error).message}`, isError: true });
        await sessions.add(session.id, { role: 'system', kind: 'turn-end', text: 'The turn ended with an error.', isError: true });
      } finally {
        this.running.delete(session.id);
        await sessions.setStatus(session.id, 'idle');
      }
    })().catch((error: unknown) => this.deps.logger.error('chat turn failed', { session: session.id, error: String(error) }));
    this.turns.add(turn);
    void turn.finally(() => this.turns.delete(turn));
  }

  /** Abort every running turn and wait (bounded) for them to end. */
  async stop(): Promise<void> {
    for (const controller of this.running.values()) controller.abort();
    await Promise.race([Promise.allSettled([...this.turns]), new Promise((r) => setTimeout(r, 2000))]);
  }

  routes(): Hono {
    const app = new Hono();
    const bad = (message: string, status: 400 | 404 | 409 = 400, code: ErrorCode = ERROR_CODES.invalidMessage) => errorResponseRaw(status, code, message);
    const json = async (req: { json(): Promise<unknown> }) => {
      try {
        return { ok: true as const, value: await req.json() };
      } catch {
        return { ok: false as const };
      }
    };
    app.get('/', (c) => c.json<SessionList>({ sessions: this.deps.sessions.list() }));
    app.post('/', async (c) => {
      const body = await json(c.req);
      if (!body.ok) return bad('body: not valid JSON');
      const parsed = parseWith(startBody, body.value);
      if (!parsed.ok) return bad(parsed.error);
      if (parsed.value.agent && !this.hasAgent(parsed.value.agent)) return bad(`agent: the ${parsed.value.agent} agent is not available`);
      if (parsed.value.cwd) {
        const kind = parsed.value.agent ?? this.deps.defaultAgent;
        if (kind === 'demo') return bad('cwd: the demo agent works only in its own scratch workspace');
        const cwd = resolve(parsed.value.cwd);
        if (!existsSync(cwd) || !statSync(cwd).isDirectory()) return bad('cwd: must be an existing folder');
        const real = realpathSync(cwd);
        if (!this.deps.allowedCwdRoots.some((root) => real === root || real.startsWith(root.endsWith(sep) ? root : root + sep))) {
          return bad(`cwd: must be inside ${this.deps.allowedCwdRoots.join(' or ')} (GATEHOUSE_SESSION_ROOTS widens it)`);
        }
        parsed.value.cwd = real;
      }
      return c.json<SessionAnswer>({ session: this.start({ ...parsed.value, agent: parsed.value.agent as AgentKind | undefined }) }, 201);
    });
    app.get('/:id/messages', (c) => {
      const session = this.deps.sessions.get(c.req.param('id'));
      if (!session) return bad(`no session ${c.req.param('id')}`, 404, ERROR_CODES.notFound);
      return c.json<SessionMessages>({ session, running: this.isRunning(session.id), messages: this.deps.sessions.messages(session.id) });
    });
    app.post('/:id/messages', async (c) => {
      const body = await json(c.req);
      if (!body.ok) return bad('body: not valid JSON');
      const parsed = parseWith(promptBody, body.value);
      if (!parsed.ok) return bad(parsed.error);
      const result = this.send(c.req.param('id'), parsed.value.prompt);
      if (result === undefined) return bad(`no session ${c.req.param('id')}`, 404, ERROR_CODES.notFound);
      if (result === 'busy') return bad('a turn is already running in this session', 409, ERROR_CODES.sessionBusy);
      return c.json<SessionAnswer>({ session: result }, 202);
    });
    app.post('/:id/stop', (c) => {
      const id = c.req.param('id');
      if (!this.deps.sessions.get(id)) return bad(`no session ${id}`, 404, ERROR_CODES.notFound);
      return c.json<SessionStopped>({ id, stopped: this.stopTurn(id) });
    });
    return app;
  }
}
