/**
 * The browser's `socket` actor for the connection machine: one WebSocket per invocation,
 * its frames decoded at the edge (connection.frames.ts). Stopping the actor closes it.
 */
import { fromCallback } from 'xstate';
import type { SocketCommand, SocketInput } from '../../machines/connection.frames.ts';
import { decodeServerFrame, socketUrl } from '../../machines/connection.frames.ts';
import { SUBPROTOCOL } from '../../protocol/index.ts';
import { socketToken } from './token.ts';

export const browserSocket = fromCallback<SocketCommand, SocketInput>(({ sendBack, receive, input }) => {
  const base = window.location.origin.replace(/^http/, 'ws');
  let ws: WebSocket;
  try {
    ws = new WebSocket(socketUrl(base, input, socketToken()), SUBPROTOCOL);
  } catch (error) {
    queueMicrotask(() => sendBack({ type: 'socket.closed', code: 1006, reason: String(error) }));
    return () => {};
  }
  let stopped = false;
  ws.onopen = () => sendBack({ type: 'socket.opened' });
  ws.onmessage = (message) => {
    if (typeof message.data === 'string') sendBack(decodeServerFrame(message.data));
    else sendBack({ type: 'server.invalid', error: 'binary frame' });
  };
  ws.onclose = (event) => {
    if (!stopped) sendBack({ type: 'socket.closed', code: event.code, reason: event.reason });
  };
  receive((command) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(command.data);
  });
  return () => {
    stopped = true;
    ws.onopen = ws.onmessage = ws.onclose = null;
    if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(1000, 'client');
  };
});
