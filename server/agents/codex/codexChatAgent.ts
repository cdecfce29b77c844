/**
 * `--agent codex`: chat sessions driven by `codex app-server` (contract-2 §5;
 * docs/integrations.md, "Codex"). One app-server process and one ephemeral thread per
 * chat session (started on its first turn in the session's folder with approvalPolicy
 * `on-request`, sandbox `workspace-write`, approvals reviewed by the user, i.e. us), kept
 * for the next turns; a process that died is started afresh.
 *
 * Items become whole chat messages: an `agentMessage` a text, a `commandExecution` a
 * Bash tool-use and its output, a `fileChange` an `apply_patch` tool-use with each file's
 * diff. Codex's approval requests go through the broker (`ctx.ask`):
 * - `item/commandExecution/requestApproval`: input `{command, description: reason}`, the folder in `context.cwd`
 *   (the script of Codex's `/bin/bash -lc '…'`, the whole form in `context.codexCommand`);
 * - `item/fileChange/requestApproval`: input `{changes: [{path, kind, diff}], reason}`
 *   (the diff from the item Codex announced; a change Codex did not show is declined).
 * Codex's own choices (`availableDecisions`, the proposed exec-policy amendment) are in
 * the request's context and, as `agentChoices` (codexChoices.ts), buttons on the card.
 * The answer is the entry the human chose there, copied as Codex listed it; otherwise
 * `accept` (an allow of the very input shown, when Codex offers `accept`), `decline` (a
 * deny, a timeout, an edited allow) or `cancel` (the turn was stopped). So
 * `acceptForSession` or an amendment, which widen what Codex stops asking about, go only
 * when the human chose them, never for a Gatehouse rule's allow. `serverRequest/resolved` for an ask still
 * open (Codex cleared it itself) cancels its request with reason `answered-in-agent`.
 */
import { canonicalJson, jsonByteLength, LIMITS } from '../../../protocol/index.ts';
import type { Logger } from '../../log.ts';
import type { ChatAgent, TurnContext } from '../chatAgent.ts';
import { AppServer, type RpcId } from './appServer.ts';
import { codexChoicesOf, codexDecisionFor } from './codexChoices.ts';

export const ANSWERED_IN_AGENT = 'answered-in-agent';
export const AGENT_ABORTED = 'agent-aborted';

type Item = Record<string, unknown> & { id?: string; type?: string };
type TurnState = {
  ctx: TurnContext;
  turnId?: string | undefined;
  items: Map<string, Item>;
  announced: Set<string>;
  resulted: Set<string>;
  requestIds: Map<string, string>;
  /** Open asks by JSON-RPC id: aborted when Codex clears them itself. */
  asks: Map<RpcId, AbortController>;
  chain: Promise<unknown>;
  end(status: string): void;
  fail(error: Error): void;
};
type Live = { rpc: AppServer; threadId: string; turn?: TurnState | undefined };

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
/** Something Codex sent, kept only when small enough for a request. */
const bounded = (value: unknown): unknown => (value !== undefined && jsonByteLength(value) <= LIMITS.maxInputBytes / 4 ? value : undefined);

export type CodexDecision = 'accept' | 'decline' | 'cancel';

/**
 * The script of Codex's display form of a shell call, `/bin/bash -lc <word>`, so the card
 * and the Bash rules see the command itself, as the hook's input gives it. The word is
 * single-quoted (a quote inside written `'\''` or `'"'"'`), or double-quoted when the
 * script holds a single quote; a double-quoted word is undone only when bash would expand
 * nothing in it (no bare `$` or backquote; backslash only before `"`, `\`, `$`,
 * backquote). Any other form is kept whole: a form not recognised exactly is never
 * guessed at.
 */
export function unwrapShell(command: string): string | undefined {
  // The group always takes part in a match (maybe empty); without one the command stays whole.
  const single = /^\/bin\/(?:ba|z)?sh -lc '((?:[^']|'\\''|'"'"')*)'$/.exec(command)?.[1];
  if (single !== undefined) return single.replace(/'\\''|'"'"'/g, "'");
  const double = /^\/bin\/(?:ba|z)?sh -lc "((?:[^"\\$`]|\\["\\$`])*)"$/.exec(command)?.[1];
  if (double !== undefined) return double.replace(/\\(["\\$`])/g, '$1');
  return undefined;
}

/** Whether Codex offers `accept` for this ask (an absent list: every decision is open). */
export function offersAccept(available: unknown): boolean {
  return !Array.isArray(available) || available.includes('accept');
}

/** The Gatehouse answer as one of Codex's decisions: nothing broader than `accept`. */
export function decisionOf(answer: Awaited<ReturnType<TurnContext['ask']>>, input: Record<string, unknown>, available: unknown): CodexDecision {
  if (answer.behavior === 'allow') return canonicalJson(answer.updatedInput) === canonicalJson(input) && offersAccept(available) ? 'accept' : 'decline';
  return answer.outcome === 'cancelled' ? 'cancel' : 'decline';
}

function changesOf(item: Item | undefined): Array<{ path: string; kind: string; diff: string }> | undefined {
  if (!item || !Array.isArray(item.changes)) return undefined;
  const changes = item.changes.filter(isRecord).map((change) => ({
    path: str(change.path) ?? '',
    kind: isRecord(change.kind) ? (str(change.kind.type) ?? 'update') : (str(change.kind) ?? 'update'),
    diff: (str(change.diff) ?? '').slice(0, 100_000),
  }));
  return changes.length && jsonByteLength(changes) <= LIMITS.maxInputBytes / 2 ? changes : undefined;
}

export function createCodexAgent(options: { bin: string; logger?: Logger }): ChatAgent & { stop(): Promise<void> } {
  const sessions = new Map<string, Promise<Live>>();

  const say = (turn: TurnState, message: Parameters<TurnContext['say']>[0]) => {
    turn.chain = turn.chain.then(() => turn.ctx.say(message)).catch(() => undefined);
    return turn.chain;
  };
  const toolOf = (item: Item): { toolName: string; input: Record<string, unknown> } | undefined => {
    if (item.type === 'commandExecution' && typeof item.command === 'string')
      return { toolName: 'Bash', input: { command: unwrapShell(item.command) ?? item.command, ...(str(item.cwd) ? { cwd: item.cwd } : {}) } };
    if (item.type === 'fileChange') return { toolName: 'apply_patch', input: { changes: changesOf(item) ?? [] } };
    return undefined;
  };
  const announce = (turn: TurnState, item: Item) => {
    const id = str(item.id);
    const tool = toolOf(item);
    if (!id || !tool || turn.announced.has(id)) return;
    turn.announced.add(id);
    void say(turn, { role: 'assistant', kind: 'tool-use', toolName: tool.toolName, toolUseId: id, input: tool.input });
  };
  const result = (turn: TurnState, item: Item) => {
    const id = str(item.id);
    if (!id || turn.resulted.has(id) || !toolOf(item)) return;
    announce(turn, item);
    turn.resulted.add(id);
    const status = str(item.status);
    const ok = status === 'completed' && (item.exitCode === undefined || item.exitCode === null || item.exitCode === 0);
    const text =
      item.type === 'commandExecution'
        ? (str(item.aggregatedOutput) ?? '')
        : (changesOf(item)
            ?.map((change) => `${change.kind} ${change.path}`)
            .join('\n') ?? '');
    const requestId = turn.requestIds.get(id);
    void say(turn, {
      role: 'user',
      kind: 'tool-result',
      toolUseId: id,
      text: (text || `(${status ?? 'done'})`).slice(0, 100_000),
      isError: !ok,
      ...(requestId ? { requestId } : {}),
    });
  };

  const onNotification = (live: Live, method: string, params: unknown) => {
    const turn = live.turn;
    if (!turn || !isRecord(params) || (params.threadId !== undefined && params.threadId !== live.threadId)) return;
    switch (method) {
      case 'item/started':
      case 'item/completed': {
        if (!isRecord(params.item)) return;
        const item = params.item as Item;
        const id = str(item.id);
        if (id) turn.items.set(id, { ...turn.items.get(id), ...item });
        if (item.type === 'agentMessage' && method === 'item/completed' && typeof item.text === 'string' && item.text)
          void say(turn, { role: 'assistant', kind: 'text', text: item.text.slice(0, 100_000) });
        else if (method === 'item/started') announce(turn, item);
        else result(turn, item);
        return;
      }
      case 'serverRequest/resolved': {
        const id = params.requestId;
        if (typeof id === 'string' || typeof id === 'number') turn.asks.get(id)?.abort(ANSWERED_IN_AGENT);
        return;
      }
      case 'turn/completed': {
        const done = isRecord(params.turn) ? params.turn : {};
        if (turn.turnId === undefined || done.id === undefined || done.id === turn.turnId) {
          // The real Codex (0.171) ends an interrupted turn first and sends the
          // `serverRequest/resolved` of its still-open asks only after: the turn is over, so
          // Codex takes no answer any more; the asks end as cleared by Codex now.
          for (const controller of turn.asks.values()) controller.abort(ANSWERED_IN_AGENT);
          turn.end(str(done.status) ?? 'completed');
        }
        return;
      }
      default:
        return;
    }
  };

  const ask = async (live: Live, method: string, params: unknown, id: RpcId): Promise<{ decision: unknown }> => {
    const turn = live.turn;
    if (!turn || !isRecord(params)) return { decision: 'decline' };
    const itemId = str(params.itemId) ?? '';
    const item = turn.items.get(itemId);
    const context: Record<string, unknown> = { codexMethod: method, threadId: live.threadId };
    if (str(params.reason)) context.reason = str(params.reason)!.slice(0, 10_000);
    const choices = codexChoicesOf(params.availableDecisions);
    if (choices.length > 0) context.agentChoices = choices;
    for (const key of [
      'turnId',
      'itemId',
      'availableDecisions',
      'proposedExecpolicyAmendment',
      'proposedNetworkPolicyAmendments',
      'networkApprovalContext',
      'grantRoot',
      'commandActions',
    ]) {
      const value = bounded(params[key]);
      if (value !== undefined && value !== null) context[key] = value;
    }
    let toolName: string;
    let input: Record<string, unknown>;
    if (method === 'item/commandExecution/requestApproval') {
      const command = str(params.command) ?? (item && str(item.command));
      if (!command) return { decision: 'decline' };
      toolName = 'Bash';
      const script = unwrapShell(command);
      if (script !== undefined) context.codexCommand = command;
      // Claude Code's Bash shape (command, description), so Bash rules and cards apply
      // (RT-10: a rule covers only the fields it knows); the folder goes in the context.
      input = { command: script ?? command, ...(str(params.reason) ? { description: str(params.reason)!.slice(0, 10_000) } : {}) };
      if (str(params.cwd)) context.cwd = params.cwd;
      announce(turn, { ...item, id: itemId, type: 'commandExecution', command, ...(str(params.cwd) ? { cwd: params.cwd } : {}) });
    } else {
      const changes = changesOf(item);
      // Never ask a human to approve a change they cannot see.
      if (!changes) {
        void say(turn, { role: 'system', kind: 'error', text: 'Codex asked to change files without showing the change: declined.', isError: true });
        return { decision: 'decline' };
      }
      toolName = 'apply_patch';
      input = {
        changes,
        ...(str(params.reason) ? { reason: str(params.reason)!.slice(0, 10_000) } : {}),
        ...(str(params.grantRoot) ? { grantRoot: params.grantRoot } : {}),
      };
      if (item) announce(turn, item);
    }
    const controller = new AbortController();
    turn.asks.set(id, controller);
    try {
      const answer = await turn.ctx.ask(toolName, input, {
        toolUseId: itemId,
        signal: controller.signal,
        context,
        ...(str(params.reason) ? { description: str(params.reason) } : {}),
      });
      if (answer.requestId) turn.requestIds.set(itemId, answer.requestId);
      // The human's pick of Codex's own choices, when it goes with the decision (never with an edited allow).
      const edited = answer.behavior === 'allow' && canonicalJson(answer.updatedInput) !== canonicalJson(input);
      const chosen = edited ? undefined : codexDecisionFor(params.availableDecisions, answer.agentChoice?.id, answer.behavior === 'allow' ? 'allow' : 'deny');
      if (chosen && !(answer.behavior === 'deny' && answer.outcome !== 'denied')) return { decision: chosen.entry };
      const decision = decisionOf(answer, input, params.availableDecisions);
      if (decision !== 'accept' && answer.behavior === 'allow')
        void say(turn, { role: 'system', kind: 'error', text: 'Allowed with an edited input, which Codex cannot take: declined.', isError: true });
      return { decision };
    } finally {
      turn.asks.delete(id);
    }
  };

  async function start(cwd: string): Promise<Live> {
    const live = {} as Live;
    live.rpc = new AppServer(options.bin, cwd, {
      onRequest: async (method, params, id) => {
        switch (method) {
          case 'item/commandExecution/requestApproval':
          case 'item/fileChange/requestApproval':
            return ask(live, method, params, id);
          default:
            // An ask Gatehouse does not carry (user input, permissions, MCP elicitation): refused.
            throw new Error(`Gatehouse does not answer ${method}`);
        }
      },
      onNotification: (method, params) => onNotification(live, method, params),
      onExit: (reason) => {
        // Nobody is left to take an answer: the turn's open requests end now, not at their timeout.
        for (const controller of live.turn?.asks.values() ?? []) controller.abort(AGENT_ABORTED);
        live.turn?.fail(new Error(reason));
      },
    });
    await live.rpc.request('initialize', { clientInfo: { name: 'gatehouse', title: 'Gatehouse', version: '0.1.0' } });
    live.rpc.notify('initialized');
    const started = await live.rpc.request('thread/start', {
      cwd,
      approvalPolicy: 'on-request',
      approvalsReviewer: 'user',
      sandbox: 'workspace-write',
      ephemeral: true,
    });
    const threadId = isRecord(started) && isRecord(started.thread) ? str(started.thread.id) : undefined;
    if (!threadId) throw new Error('codex app-server started no thread');
    live.threadId = threadId;
    return live;
  }

  return {
    name: 'codex',
    async runTurn(ctx: TurnContext) {
      let pending = sessions.get(ctx.session.id);
      if (pending) {
        const live = await pending.catch(() => undefined);
        if (!live?.rpc.alive) pending = undefined;
      }
      if (!pending) {
        pending = start(ctx.session.cwd);
        sessions.set(ctx.session.id, pending);
        pending.catch(() => sessions.delete(ctx.session.id));
      }
      const live = await pending;
      let end!: (status: string) => void;
      let fail!: (error: Error) => void;
      const finished = new Promise<string>((resolve, reject) => ((end = resolve), (fail = reject)));
      const turn: TurnState = {
        ctx,
        items: new Map(),
        announced: new Set(),
        resulted: new Set(),
        requestIds: new Map(),
        asks: new Map(),
        chain: Promise.resolve(),
        end,
        fail,
      };
      live.turn = turn;
      const onAbort = () => {
        if (turn.turnId) live.rpc.request('turn/interrupt', { threadId: live.threadId, turnId: turn.turnId }).catch(() => {});
      };
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      try {
        const started = await live.rpc.request('turn/start', {
          threadId: live.threadId,
          input: [{ type: 'text', text: ctx.prompt }],
          approvalPolicy: 'on-request',
          approvalsReviewer: 'user',
        });
        turn.turnId = isRecord(started) && isRecord(started.turn) ? str(started.turn.id) : undefined;
        if (ctx.signal.aborted) onAbort();
        const status = await finished;
        await turn.chain;
        const text = status === 'completed' ? 'The turn ended.' : status === 'interrupted' ? 'The turn was cancelled.' : `The turn ended (${status}).`;
        await ctx.say({ role: 'system', kind: 'turn-end', text, isError: status === 'failed' });
      } catch (error) {
        await turn.chain;
        await ctx.say({ role: 'system', kind: 'error', text: `The agent stopped: ${(error as Error).message}`.slice(0, 2000), isError: true });
        await ctx.say({ role: 'system', kind: 'turn-end', text: 'The turn ended with an error.', isError: true });
      } finally {
        ctx.signal.removeEventListener('abort', onAbort);
        for (const controller of turn.asks.values()) controller.abort('agent-cancelled');
        live.turn = undefined;
      }
    },
    async stop() {
      const stopping = [...sessions.values()].map((pending) =>
        pending.then(
          (live) => live.rpc.close(),
          () => {},
        ),
      );
      sessions.clear();
      await Promise.all(stopping);
    },
  };
}
