/**
 * Baseline 2: Socket.IO 4.8 over its WebSocket transport only, with ack callbacks: what
 * most would build this on. The request is broadcast with `io.timeout(deadline).emit(…,
 * ack)` (one encoding, a per-client ack); the client answers with the ack callback, then
 * emits `permission-response`. Same welcome/snapshot on connect as the others; no store.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { Server } from 'socket.io';
import type { AgentOutcome, AskOptions, BenchRequest, BenchServer } from './types.ts';

type Pending = {
  event: Record<string, unknown>;
  resolve: (outcome: AgentOutcome) => void;
  timer: NodeJS.Timeout;
  acked: boolean;
};

export async function startSocketIoServer(): Promise<BenchServer> {
  const httpServer = createServer();
  const io = new Server(httpServer, { transports: ['websocket'], serveClient: false, maxHttpBufferSize: 1 << 20 });
  const pending = new Map<string, Pending>();
  let seq = 0;

  io.on('connection', (socket) => {
    socket.emit('welcome', { seq });
    socket.emit('snapshot', { seq, requests: [...pending.values()].map((p) => p.event) });
    socket.on('permission-response', (msg: { requestId?: unknown; decision?: unknown }) => {
      if (typeof msg !== 'object' || msg === null || typeof msg.requestId !== 'string') return;
      const p = pending.get(msg.requestId);
      if (!p) return;
      pending.delete(msg.requestId);
      clearTimeout(p.timer);
      p.resolve({ id: msg.requestId, decision: msg.decision === 'allow' ? 'allow' : 'deny' });
    });
  });

  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', () => resolve()));
  const address = httpServer.address();
  if (address === null || typeof address === 'string') throw new Error('unexpected address');
  return {
    port: address.port,
    ask(request: BenchRequest, options: AskOptions): Promise<AgentOutcome> {
      const id = randomUUID();
      const timestamp = Date.now();
      const event = { seq: ++seq, id, ...request, timestamp, expiresAt: timestamp + options.timeoutMs };
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          resolve({ id, decision: 'deny' });
        }, options.timeoutMs);
        const entry: Pending = { event, resolve, timer, acked: false };
        pending.set(id, entry);
        io.timeout(options.timeoutMs).emit('permission-request', event, (err: Error | null) => {
          if (!err) entry.acked = true;
        });
      });
    },
    unresolved: () => pending.size,
    async close() {
      for (const p of pending.values()) clearTimeout(p.timer);
      io.disconnectSockets(true);
      await new Promise<void>((resolve) => io.close(() => resolve()));
    },
  };
}
