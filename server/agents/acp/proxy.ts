/**
 * The ACP proxy between an editor and an agent (`bin/gatehouse acp -- CMD…`, contract-2
 * §5; docs/integrations.md, "Any ACP agent"). Every line passes through as the exact
 * bytes received, except the permission flow: the agent's `session/request_permission`
 * becomes a Gatehouse request and (unless `editor: false`) is also forwarded to the
 * editor unchanged, same id. The first answer wins:
 * - Gatehouse decides: the agent gets that answer (one of its own option ids), and the
 *   editor's copy is withdrawn with `$/cancel_request`; the editor's late reply is dropped.
 * - the editor answers: its reply goes to the agent unchanged, and the Gatehouse request
 *   is cancelled with reason `answered-in-editor`.
 * - `session/cancel` from the editor: the agent gets it, its pending asks in that session
 *   are answered `cancelled`, and their Gatehouse requests are cancelled.
 * - the agent withdraws its ask (`$/cancel_request`): the editor gets that notice, and the
 *   Gatehouse request is cancelled (`agent-cancelled`).
 * With `editor: false` a reply from the editor to an ask it never saw is dropped: ids are
 * small integers, easy to guess, and must not answer for Gatehouse.
 *
 * Why raw lines and not the SDK's connection: the SDK parses every message against its
 * schema and writes it anew, which would drop or reshape what it does not know (`_meta`
 * of newer agents, extension methods); a proxy must not reinterpret. The SDK supplies the
 * method names and the types of the permission messages.
 */
import { randomUUID } from 'node:crypto';
import { AGENT_METHODS, CLIENT_METHODS, PROTOCOL_METHODS } from '@agentclientprotocol/sdk';
import type { AskOutcome, AskSpec } from '../client/ask.ts';
import { idKeyOf, messageOf, type JsonRpcMessage } from './lines.ts';
import { CANCELLED, parseAsk, rejectAnswer, requestSpecOf, verdictOf, type AcpAnswer, type AcpAsk } from './permission.ts';

export const CANCEL_REASONS = {
  answeredInEditor: 'answered-in-editor',
  agentCancelled: 'agent-cancelled',
  sessionCancelled: 'session-cancelled',
} as const;

export type ProxyDeps = {
  /** `acp:<basename>` */
  agent: string;
  /** false: `--no-editor`, Gatehouse alone answers. */
  editor: boolean;
  /** The proxy's folder: the cwd of an ask whose session/new was not seen. */
  cwd: string;
  toEditor(data: Buffer | string): void;
  toAgent(data: Buffer | string): void;
  /** Ask Gatehouse; `onCreated` gets the request id as soon as it exists. */
  ask(spec: AskSpec, onCreated: (requestId: string) => void, signal: AbortSignal): Promise<AskOutcome>;
  /** Cancel a Gatehouse request with a reason (best effort). */
  cancel(requestId: string, reason: string): Promise<void>;
  log(message: string): void;
};

type Pending = {
  id: unknown;
  key: string;
  ask: AcpAsk;
  spec: AskSpec;
  forwarded: boolean;
  done: boolean;
  requestId?: string | undefined;
  /** Set once the other side won: the reason to cancel the Gatehouse request with. */
  cancelReason?: string;
  controller: AbortController;
  asked: Promise<void>;
};

/** How long to wait for a request id before plain-cancelling (reason `agent-cancelled`). */
const ID_WAIT_MS = 3000;

export class AcpProxy {
  private readonly pending = new Map<string, Pending>();
  /** Ids of editor copies we withdrew: their late replies are dropped. */
  private readonly withdrawn = new Set<string>();
  /** session/new requests of the editor (id → cwd), then sessions (id → cwd). */
  private readonly newSessionCwd = new Map<string, string>();
  private readonly sessionCwd = new Map<string, string>();
  private closed = false;

  constructor(private readonly deps: ProxyDeps) {}

  /** One line from the agent (its exact bytes). */
  fromAgent(line: Buffer): void {
    const message = messageOf(line);
    if (message && message.method === CLIENT_METHODS.session_request_permission && idKeyOf(message.id) !== undefined && !this.closed) {
      this.onAsk(line, message);
      return;
    }
    if (message && message.method === undefined) this.noteSessionResult(message);
    this.deps.toEditor(line);
    if (message && message.method === PROTOCOL_METHODS.cancel_request) this.agentWithdrew(message);
  }

  /** One line from the editor (its exact bytes). */
  fromEditor(line: Buffer): void {
    const message = messageOf(line);
    if (!message) {
      this.deps.toAgent(line);
      return;
    }
    if (message.method === undefined) {
      const key = idKeyOf(message.id);
      const entry = key ? this.pending.get(key) : undefined;
      if (key && entry) {
        if (!entry.forwarded) {
          this.deps.log(`dropped a reply from the editor to permission ask ${key}, which it was never shown`);
          return;
        }
        this.editorWon(entry, line);
        return;
      }
      if (key && this.withdrawn.delete(key)) {
        this.deps.log(`dropped the editor's late reply to withdrawn permission ask ${key}`);
        return;
      }
      this.deps.toAgent(line);
      return;
    }
    this.noteSessionRequest(message);
    this.deps.toAgent(line);
    if (message.method === AGENT_METHODS.session_cancel) {
      const sessionId = (message.params as { sessionId?: unknown } | undefined)?.sessionId;
      if (typeof sessionId === 'string') this.cancelSession(sessionId);
    }
  }

  /** The agent or the editor went away: give up every Gatehouse request (plain cancel). */
  async close(): Promise<void> {
    this.closed = true;
    const waits: Promise<void>[] = [];
    for (const entry of this.pending.values()) {
      entry.done = true;
      entry.controller.abort();
      waits.push(entry.asked);
    }
    this.pending.clear();
    await Promise.allSettled(waits);
  }

  /** How many asks are waiting (for tests and logs). */
  get waiting(): number {
    return this.pending.size;
  }

  private onAsk(line: Buffer, message: JsonRpcMessage): void {
    const key = idKeyOf(message.id)!;
    const parsed = parseAsk(message.params);
    if (!parsed.ok || this.pending.has(key)) {
      const why = parsed.ok ? `a second ask with the pending id ${key}` : `an unreadable permission ask (${parsed.error})`;
      if (this.deps.editor) {
        this.deps.log(`${why}: the editor alone answers it`);
        this.deps.toEditor(line);
      } else {
        this.deps.log(`${why}: answered cancelled`);
        this.answerAgent(message.id, parsed.ok ? rejectAnswer(parsed.value.options) : CANCELLED);
      }
      return;
    }
    const ask = parsed.value;
    const spec = requestSpecOf(ask, {
      agent: this.deps.agent,
      cwd: this.sessionCwd.get(ask.sessionId) ?? this.deps.cwd,
      idempotencyKey: `acp-${randomUUID()}`,
    });
    const entry: Pending = { id: message.id, key, ask, spec, forwarded: false, done: false, controller: new AbortController(), asked: Promise.resolve() };
    this.pending.set(key, entry);
    if (this.deps.editor) {
      entry.forwarded = true;
      this.deps.toEditor(line);
    }
    entry.asked = this.askGatehouse(entry);
  }

  private async askGatehouse(entry: Pending): Promise<void> {
    let outcome: AskOutcome;
    try {
      outcome = await this.deps.ask(entry.spec, (requestId) => this.onCreated(entry, requestId), entry.controller.signal);
    } catch (error) {
      outcome = { kind: 'unavailable', down: true, reason: `the client failed: ${(error as Error).message}` };
    }
    if (entry.done) return;
    const verdict = verdictOf(outcome, entry.ask, entry.spec.input);
    switch (verdict.kind) {
      case 'answer':
        this.deps.log(`ask ${entry.key}: ${verdict.why}`);
        this.finish(entry, verdict.answer);
        return;
      case 'no-decision':
        if (this.deps.editor) {
          this.deps.log(`ask ${entry.key}: ${verdict.why}; the editor decides`);
          return;
        }
        // Gatehouse alone answers, and it has no decision: fail closed.
        this.deps.log(`ask ${entry.key}: ${verdict.why}; rejected`);
        this.finish(entry, rejectAnswer(entry.ask.options));
        return;
      default: {
        const never: never = verdict;
        return never;
      }
    }
  }

  private onCreated(entry: Pending, requestId: string): void {
    entry.requestId = requestId;
    if (entry.cancelReason) void this.cancelGatehouse(entry);
  }

  /** Gatehouse (or a session/cancel) answers the agent; the editor's copy is withdrawn. */
  private finish(entry: Pending, answer: AcpAnswer): void {
    entry.done = true;
    this.pending.delete(entry.key);
    this.answerAgent(entry.id, answer);
    if (entry.forwarded) {
      this.withdrawn.add(entry.key);
      this.deps.toEditor(JSON.stringify({ jsonrpc: '2.0', method: PROTOCOL_METHODS.cancel_request, params: { requestId: entry.id } }) + '\n');
    }
  }

  private editorWon(entry: Pending, line: Buffer): void {
    entry.done = true;
    this.pending.delete(entry.key);
    // The editor is the human's own surface: its answer reaches the agent as it was sent.
    this.deps.toAgent(line);
    this.deps.log(`ask ${entry.key}: answered in the editor`);
    entry.cancelReason = CANCEL_REASONS.answeredInEditor;
    void this.cancelGatehouse(entry);
  }

  /** The agent withdrew its own ask (`$/cancel_request`): the editor got that notice
   *  (and answers it); Gatehouse's request is cancelled; with no editor, we answer it. */
  private agentWithdrew(message: JsonRpcMessage): void {
    const key = idKeyOf((message.params as { requestId?: unknown } | undefined)?.requestId);
    const entry = key ? this.pending.get(key) : undefined;
    if (!entry) return;
    entry.done = true;
    this.pending.delete(entry.key);
    this.deps.log(`ask ${entry.key}: withdrawn by the agent`);
    if (!entry.forwarded) this.answerAgent(entry.id, CANCELLED);
    entry.cancelReason = CANCEL_REASONS.agentCancelled;
    void this.cancelGatehouse(entry);
  }

  private cancelSession(sessionId: string): void {
    for (const entry of [...this.pending.values()]) {
      if (entry.ask.sessionId !== sessionId) continue;
      this.deps.log(`ask ${entry.key}: the session was cancelled`);
      this.finish(entry, CANCELLED);
      entry.cancelReason = CANCEL_REASONS.sessionCancelled;
      void this.cancelGatehouse(entry);
    }
  }

  /** Cancel with the reason once the id is known; without an id in time, abort the
   *  client's wait (it then cancels plainly). */
  private async cancelGatehouse(entry: Pending): Promise<void> {
    if (!entry.requestId) {
      setTimeout(() => {
        if (!entry.requestId) entry.controller.abort();
      }, ID_WAIT_MS).unref();
      return;
    }
    const requestId = entry.requestId;
    entry.requestId = undefined; // once
    try {
      await this.deps.cancel(requestId, entry.cancelReason ?? 'agent-cancelled');
    } catch (error) {
      this.deps.log(`cancel of ${requestId} failed: ${(error as Error).message}`);
    }
    entry.controller.abort();
  }

  private answerAgent(id: unknown, answer: AcpAnswer): void {
    this.deps.toAgent(JSON.stringify({ jsonrpc: '2.0', id, result: answer }) + '\n');
  }

  private noteSessionRequest(message: JsonRpcMessage): void {
    const params = message.params as { cwd?: unknown; sessionId?: unknown } | undefined;
    if (typeof params?.cwd !== 'string') return;
    if (message.method === AGENT_METHODS.session_new) {
      const key = idKeyOf(message.id);
      if (key) this.newSessionCwd.set(key, params.cwd);
    } else if (typeof params.sessionId === 'string') {
      // session/load, session/resume and the like name their session and folder.
      this.sessionCwd.set(params.sessionId, params.cwd);
    }
  }

  private noteSessionResult(message: JsonRpcMessage): void {
    const key = idKeyOf(message.id);
    const cwd = key ? this.newSessionCwd.get(key) : undefined;
    if (!key || cwd === undefined) return;
    this.newSessionCwd.delete(key);
    const sessionId = (message.result as { sessionId?: unknown } | undefined)?.sessionId;
    if (typeof sessionId === 'string') this.sessionCwd.set(sessionId, cwd);
  }
}
