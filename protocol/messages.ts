/**
 * WebSocket messages (protocol-v1.md §3): one discriminated union per direction.
 * The server parses every client frame with `clientMessage`; the browser parses every
 * server frame with `serverMessage`. Both sides infer their types from here.
 */
import { z } from 'zod';
import { ERROR_CODES, PROTOCOL_VERSION } from './constants.ts';
import * as f from './fields.ts';

// ---- sequenced events, server to client -------------------------------------------

export const permissionRequestEvent = z.object({
  type: z.literal('permission-request'),
  seq: f.seq,
  id: f.id,
  toolName: f.toolName,
  input: f.toolInput,
  context: f.requestContext,
  timestamp: f.timestamp,
  expiresAt: f.timestamp,
});

export const permissionResolvedEvent = z.object({
  type: z.literal('permission-resolved'),
  seq: f.seq,
  requestId: f.id,
  decision: f.decision,
  updatedInput: f.toolInput.optional(),
  message: f.reasonMessage.optional(),
  /** A client's label, `http`, or `rule:<id>`. */
  decidedBy: z.string(),
  timestamp: f.timestamp,
});

export const permissionTimeoutEvent = z.object({
  type: z.literal('permission-timeout'),
  seq: f.seq,
  requestId: f.id,
  toolName: f.toolName,
  timestamp: f.timestamp,
});

export const permissionCancelledEvent = z.object({
  type: z.literal('permission-cancelled'),
  seq: f.seq,
  requestId: f.id,
  reason: z.string(),
  timestamp: f.timestamp,
});

/** One whole chat message of an agent session (not token deltas). */
export const chatMessage = z.object({
  id: f.id,
  role: z.enum(['user', 'assistant', 'system']),
  kind: z.enum(['text', 'tool-use', 'tool-result', 'turn-end', 'error']),
  text: z.string().optional(),
  toolName: z.string().optional(),
  toolUseId: z.string().optional(),
  input: z.record(z.string(), z.unknown()).optional(),
  isError: z.boolean().optional(),
  /** The permission request this tool use waited on, when it asked one. */
  requestId: z.string().optional(),
});

export const chatMessageEvent = z.object({
  type: z.literal('chat-message'),
  seq: f.seq,
  sessionId: f.id,
  message: chatMessage,
  timestamp: f.timestamp,
});

export const chatSession = z.object({
  id: f.id,
  title: z.string(),
  agent: z.string(),
  cwd: z.string(),
  status: z.enum(['idle', 'running', 'ended']),
  createdAt: f.timestamp,
  updatedAt: f.timestamp,
});

export const sessionUpdatedEvent = z.object({
  type: z.literal('session-updated'),
  seq: f.seq,
  session: chatSession,
  timestamp: f.timestamp,
});

export const sequencedEvent = z.discriminatedUnion('type', [
  permissionRequestEvent,
  permissionResolvedEvent,
  permissionTimeoutEvent,
  permissionCancelledEvent,
  chatMessageEvent,
  sessionUpdatedEvent,
]);

/** The outcome events: every request gets exactly one of these. */
export const OUTCOME_EVENT_TYPES = ['permission-resolved', 'permission-timeout', 'permission-cancelled'] as const;

// ---- other server messages -------------------------------------------------------

export const welcomeMessage = z.object({
  type: z.literal('welcome'),
  protocol: z.literal(PROTOCOL_VERSION),
  epoch: z.string(),
  /** The head of the stream. */
  seq: f.seq,
  resumed: z.boolean(),
  clientId: z.string(),
});

export const snapshotMessage = z.object({
  type: z.literal('snapshot'),
  seq: f.seq,
  /** One `permission-request` event for every unresolved request, oldest first; with
   *  `more: true` only the first of them, the rest follow in `snapshot-part` frames. */
  requests: z.array(permissionRequestEvent),
  queue: f.queueStatus,
  /** true: `snapshot-part` frames follow (contract-2 §3). Absent or false: complete. */
  more: z.boolean().optional(),
});

/** The next part of a snapshot that did not fit one frame; the last one has `more: false`.
 *  The live stream starts only after it. */
export const snapshotPartMessage = z.object({
  type: z.literal('snapshot-part'),
  requests: z.array(permissionRequestEvent),
  more: z.boolean(),
});

export const queueStatusMessage = z.object({
  type: z.literal('permission-queue-status'),
  pending: z.number().int().nonnegative(),
  processing: z.number().int().nonnegative(),
});

export const ackMessage = z.object({
  type: z.literal('ack'),
  ref: z.string().optional(),
  requestId: f.id,
  status: z.literal('accepted'),
  /** With a `remember`: the rule made, or why none was. */
  remember: f.rememberOutcome.optional(),
});

export const errorMessage = z.object({
  type: z.literal('error'),
  code: z.enum(Object.values(ERROR_CODES) as [string, ...string[]]),
  message: z.string(),
  ref: z.string().optional(),
  requestId: z.string().optional(),
  /** With `already-resolved`: the winning decision. */
  decision: f.decision.optional(),
});

export const pongMessage = z.object({
  type: z.literal('pong'),
  id: z.union([z.string(), z.number()]).optional(),
  /** Server time, for the client's latency and clock-skew estimate. */
  serverTime: f.timestamp.optional(),
});

export const serverMessage = z.discriminatedUnion('type', [
  welcomeMessage,
  snapshotMessage,
  snapshotPartMessage,
  queueStatusMessage,
  ackMessage,
  errorMessage,
  pongMessage,
  permissionRequestEvent,
  permissionResolvedEvent,
  permissionTimeoutEvent,
  permissionCancelledEvent,
  chatMessageEvent,
  sessionUpdatedEvent,
]);

// ---- client to server -----------------------------------------------------------

export const clientAck = z.object({
  type: z.literal('ack'),
  /** The client holds every event up to this one. */
  seq: f.seq,
});

export const permissionResponse = z.object({
  type: z.literal('permission-response'),
  requestId: f.id,
  decision: f.decision,
  updatedInput: f.toolInput.optional(),
  message: f.reasonMessage.optional(),
  clientMsgId: z.string().min(1).max(128).optional(),
  remember: f.remember.optional(),
  /** One of the request's `context.agentChoices` ids: the agent's own choice (agentChoices.ts). */
  agentChoice: f.id.optional(),
});

export const clientPing = z.object({
  type: z.literal('ping'),
  id: z.union([z.string().max(128), z.number()]).optional(),
});

export const clientMessage = z.discriminatedUnion('type', [clientAck, permissionResponse, clientPing]);

// ---- types ----------------------------------------------------------------------

export type PermissionRequestEvent = z.infer<typeof permissionRequestEvent>;
export type PermissionResolvedEvent = z.infer<typeof permissionResolvedEvent>;
export type PermissionTimeoutEvent = z.infer<typeof permissionTimeoutEvent>;
export type PermissionCancelledEvent = z.infer<typeof permissionCancelledEvent>;
export type ChatMessage = z.infer<typeof chatMessage>;
export type ChatMessageEvent = z.infer<typeof chatMessageEvent>;
export type ChatSession = z.infer<typeof chatSession>;
export type SessionUpdatedEvent = z.infer<typeof sessionUpdatedEvent>;
export type SequencedEvent = z.infer<typeof sequencedEvent>;
export type OutcomeEvent = PermissionResolvedEvent | PermissionTimeoutEvent | PermissionCancelledEvent;
export type WelcomeMessage = z.infer<typeof welcomeMessage>;
export type SnapshotMessage = z.infer<typeof snapshotMessage>;
export type SnapshotPartMessage = z.infer<typeof snapshotPartMessage>;
export type QueueStatusMessage = z.infer<typeof queueStatusMessage>;
export type AckMessage = z.infer<typeof ackMessage>;
export type ErrorMessage = z.infer<typeof errorMessage>;
export type PongMessage = z.infer<typeof pongMessage>;
export type ServerMessage = z.infer<typeof serverMessage>;
export type ClientAck = z.infer<typeof clientAck>;
export type PermissionResponse = z.infer<typeof permissionResponse>;
export type ClientPing = z.infer<typeof clientPing>;
export type ClientMessage = z.infer<typeof clientMessage>;
