/** Client of the Socket.IO baseline (bench/servers/socketio.ts): WebSocket transport only,
 *  no reconnection (the benchmark reconnects on purpose), the ack is the emit's callback. */
import { io } from 'socket.io-client';
import type { BenchClient, ClientEvents, ConnectOptions } from './types.ts';

export function connectSocketIo(options: ConnectOptions, events: ClientEvents): BenchClient {
  const socket = io(`http://127.0.0.1:${options.port}`, { transports: ['websocket'], reconnection: false, forceNew: true });
  let closing = false;
  socket.on('snapshot', (msg: { requests?: unknown[] }) => events.onReady(msg.requests?.length ?? 0));
  socket.on('permission-request', (msg: { id: string; input?: { createdAt?: number } }, ack: (answer: unknown) => void) => {
    ack({ ok: true });
    events.onRequest(msg.id, msg.input?.createdAt);
  });
  socket.on('connect_error', (err) => events.onProblem(`connect error ${err.message}`));
  socket.on('disconnect', (reason) => {
    if (!closing) events.onProblem(`disconnected ${reason}`);
  });
  return {
    decide(id) {
      socket.emit('permission-response', { requestId: id, decision: 'allow' });
    },
    close() {
      closing = true;
      socket.disconnect();
    },
  };
}
