/**
 * What a chat agent is: something that runs one turn of a session, telling the chat
 * what it says and does (`say`) and asking before each tool call (`ask`, which is
 * `askPermission`, the same path for every in-process agent).
 */
import type { ChatMessage, ChatSession } from '../../protocol/index.ts';
import type { GateAnswer } from './permissionGate.ts';

/** `context`: more of what the agent told (e.g. Codex's `availableDecisions`), under the standard keys.
 *  `signal` aborted with a known cancel reason (CANCEL_REASONS) cancels the request with it (else `agent-cancelled`). */
export type AskExtra = {
  toolUseId: string;
  // As the agent's SDK gives them: each may be undefined.
  description?: string | undefined;
  suggestions?: unknown[] | undefined;
  blockedPath?: string | undefined;
  signal?: AbortSignal | undefined;
  context?: Record<string, unknown> | undefined;
};

export type TurnContext = {
  session: ChatSession;
  prompt: string;
  /** Aborts when the session is stopped or the server shuts down. */
  signal: AbortSignal;
  say(message: Omit<ChatMessage, 'id'>): Promise<ChatMessage>;
  ask(toolName: string, input: Record<string, unknown>, extra: AskExtra): Promise<GateAnswer>;
  /** The SDK's own session id, to resume the conversation on the next turn. */
  sdkSessionId?: string | undefined;
  setSdkSessionId(id: string): void;
};

/** `stop` resolves when the agent's processes are gone (the server's stop waits for it). */
export type ChatAgent = { name: 'demo' | 'claude' | 'codex' | `acp:${string}`; runTurn(ctx: TurnContext): Promise<void>; stop?(): void | Promise<void> };
