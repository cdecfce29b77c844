/**
 * Baseline 1: raw `ws` 8 with no machines and no store, the limit of this stack.
 * The same observable pattern as Gatehouse: `welcome` + `snapshot` on connect, one
 * `permission-request` frame per request to every client, the client's `ack`, then its
 * `permission-response`; the first decision resolves the agent's promise. A deadline
 * timer per request, as every system has one. Nothing is persisted.
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { WebSocket, WebSocketServer } from 'ws';
import type { AgentOutcome, AskOptions, BenchRequest, BenchServer } from './types.ts';

type Pending = {
  event: Record<string, unknown>;
  resolve: (outcome: AgentOutcome) => void;
  timer: NodeJS.Timeout;
  acked: boolean;
};

export async function startRawServer(): Promise<BenchServer> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 1 << 20 });
  await once(wss, 'listening');
  const pending = new Map<string, Pending>();
  let seq = 0;

  wss.on('connection', (socket) => {
    socket.send(JSON.stringify({ type: 'welcome', seq }));
    socket.send(JSON.stringify({ type: 'snapshot', seq, requests: [...pending.values()].map((p) => p.event) }));
    socket.on('message', (data) => {
      let msg: { type?: unknown; id?: unknown; requestId?: unknown; decision?: unknown };
      try {
        msg = JSON.parse(String(data));
      } catch {
        return;
      }
      if (msg.type === 'ack' && typeof msg.id === 'string') {
        const p = pending.get(msg.id);
        if (p) p.acked = true;
      } else if (msg.type === 'permission-response' && typeof msg.requestId === 'string') {
        const p = pending.get(msg.requestId);
        if (!p) return; // already decided: the first decision wins
        pending.delete(msg.requestId);
        clearTimeout(p.timer);
        p.resolve({ id: msg.requestId, decision: msg.decision === 'allow' ? 'allow' : 'deny' });
      }
    });
  });

  const address = wss.address();
  if (address === null || typeof address === 'string') throw new Error('unexpected address');
  return {
    port: address.port,
    ask(request: BenchRequest, options: AskOptions): Promise<AgentOutcome> {
      const id = randomUUID();
      const timestamp = Date.now();
      const event = { type: 'permission-request', seq: ++seq, id, ...request, timestamp, expiresAt: timestamp + options.timeoutMs };
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          resolve({ id, decision: 'deny' });
        }, options.timeoutMs);
        pending.set(id, { event, resolve, timer, acked: false });
        const frame = JSON.stringify(event);
        for (const client of wss.clients) if (client.readyState === WebSocket.OPEN) client.send(frame);
      });
    },
    unresolved: () => pending.size,
    async close() {
      for (const p of pending.values()) clearTimeout(p.timer);
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
