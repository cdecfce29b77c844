/** Client of the raw-ws baseline (bench/servers/raw.ts). */
import { WebSocket } from 'ws';
import type { BenchClient, ClientEvents, ConnectOptions } from './types.ts';

export function connectRaw(options: ConnectOptions, events: ClientEvents): BenchClient {
  const ws = new WebSocket(`ws://127.0.0.1:${options.port}/`);
  let closing = false;
  ws.on('message', (data) => {
    const msg = JSON.parse(String(data)) as { type: string; id?: string; input?: { createdAt?: number }; requests?: unknown[] };
    switch (msg.type) {
      case 'permission-request':
        ws.send(JSON.stringify({ type: 'ack', id: msg.id }));
        events.onRequest(msg.id as string, msg.input?.createdAt);
        break;
      case 'snapshot':
        events.onReady(msg.requests?.length ?? 0);
        break;
      case 'welcome':
        break;
      default:
        events.onProblem(`unexpected frame ${msg.type}`);
    }
  });
  ws.on('error', (err) => events.onProblem(`socket error ${err.message}`));
  ws.on('close', (code) => {
    if (!closing) events.onProblem(`closed ${code}`);
  });
  return {
    decide(id) {
      ws.send(JSON.stringify({ type: 'permission-response', requestId: id, decision: 'allow' }));
    },
    close() {
      closing = true;
      ws.terminate();
    },
  };
}
