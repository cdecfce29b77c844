/**
 * The edge between a raw WebSocket and the connection machine: server frames are parsed
 * with the protocol's zod schemas into typed machine events, and client frames are
 * serialised here. A frame that does not parse becomes `server.invalid`, never a throw.
 */
import { parseJsonWith, serverMessage } from '../protocol/index.ts';
import type {
  AckMessage,
  ChatMessageEvent,
  ClientMessage,
  ErrorMessage,
  PongMessage,
  QueueStatusMessage,
  SequencedEvent,
  SessionUpdatedEvent,
  SnapshotMessage,
  SnapshotPartMessage,
  WelcomeMessage,
} from '../protocol/index.ts';

/** What the host's socket actor sends back to the machine. */
export type SocketEvent =
  | { type: 'socket.opened' }
  | { type: 'socket.closed'; code: number; reason: string }
  | { type: 'server.welcome'; message: WelcomeMessage }
  | { type: 'server.snapshot'; message: SnapshotMessage }
  | { type: 'server.snapshot-part'; message: SnapshotPartMessage }
  | { type: 'server.event'; event: SequencedEvent }
  | { type: 'server.queue-status'; message: QueueStatusMessage }
  | { type: 'server.ack'; message: AckMessage }
  | { type: 'server.error'; message: ErrorMessage }
  | { type: 'server.pong'; message: PongMessage }
  | { type: 'server.invalid'; error: string };

/** What the machine sends to the socket actor. */
export type SocketCommand = { type: 'socket.send'; data: string };

/** Input of the socket actor: where to resume from. */
export type SocketInput = { since?: number; epoch?: string };

export type ChatStreamEvent = ChatMessageEvent | SessionUpdatedEvent;

export function decodeServerFrame(text: string): SocketEvent {
  const parsed = parseJsonWith(serverMessage, text);
  if (!parsed.ok) return { type: 'server.invalid', error: parsed.error };
  const message = parsed.value;
  switch (message.type) {
    case 'welcome':
      return { type: 'server.welcome', message };
    case 'snapshot':
      return { type: 'server.snapshot', message };
    case 'snapshot-part':
      return { type: 'server.snapshot-part', message };
    case 'permission-queue-status':
      return { type: 'server.queue-status', message };
    case 'ack':
      return { type: 'server.ack', message };
    case 'error':
      return { type: 'server.error', message };
    case 'pong':
      return { type: 'server.pong', message };
    case 'permission-request':
    case 'permission-resolved':
    case 'permission-timeout':
    case 'permission-cancelled':
    case 'chat-message':
    case 'session-updated':
      return { type: 'server.event', event: message };
    default: {
      const never: never = message;
      return never;
    }
  }
}

export function encodeClientFrame(message: ClientMessage): SocketCommand {
  return { type: 'socket.send', data: JSON.stringify(message) };
}

/** `/ws?since=…&epoch=…` relative to a base such as `ws://host:port`. */
export function socketUrl(base: string, input: SocketInput, token?: string): string {
  const url = new URL('/ws', base);
  if (input.epoch !== undefined && input.since !== undefined) {
    url.searchParams.set('since', String(input.since));
    url.searchParams.set('epoch', input.epoch);
  }
  if (token) url.searchParams.set('token', token);
  return url.toString();
}
