/**
 * Client of Gatehouse through its real WebSocket protocol (protocol-v1.md §3, snapshot
 * parts of contract-2 §3): `/ws`
 * with the `gatehouse.v1` subprotocol; `{"type":"ack","seq"}` for each request received,
 * then `permission-response` with a fresh `clientMsgId`. Acks are cumulative, so acking
 * each request also covers the `permission-resolved` events before it.
 */
import { randomUUID } from 'node:crypto';
import { WebSocket } from 'ws';
import { SUBPROTOCOL } from '../../protocol/index.ts';
import type { BenchClient, ClientEvents, ConnectOptions } from './types.ts';

type Frame = {
  type: string;
  seq?: number;
  id?: string;
  resumed?: boolean;
  input?: { createdAt?: number };
  requests?: unknown[];
  code?: string;
  message?: string;
  more?: boolean;
};

export function connectGatehouse(options: ConnectOptions, events: ClientEvents): BenchClient {
  const query = options.token ? `?token=${encodeURIComponent(options.token)}` : '';
  const ws = new WebSocket(`ws://127.0.0.1:${options.port}/ws${query}`, SUBPROTOCOL);
  let closing = false;
  /** A snapshot larger than a frame comes in parts (contract-2 §3): count until the last. */
  let snapshotSoFar = 0;
  ws.on('message', (data) => {
    const msg = JSON.parse(String(data)) as Frame;
    switch (msg.type) {
      case 'permission-request':
        ws.send(JSON.stringify({ type: 'ack', seq: msg.seq }));
        events.onRequest(msg.id as string, msg.input?.createdAt);
        break;
      case 'welcome':
        if (msg.resumed) events.onReady(0);
        break;
      case 'snapshot':
      case 'snapshot-part':
        snapshotSoFar = (msg.type === 'snapshot' ? 0 : snapshotSoFar) + (msg.requests?.length ?? 0);
        if (msg.more !== true) events.onReady(snapshotSoFar);
        break;
      case 'error':
        events.onProblem(`error ${msg.code}: ${msg.message}`);
        break;
      case 'ack':
      case 'permission-resolved':
      case 'permission-queue-status':
      case 'pong':
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
      ws.send(JSON.stringify({ type: 'permission-response', requestId: id, decision: 'allow', clientMsgId: randomUUID() }));
    },
    close() {
      closing = true;
      ws.terminate();
    },
  };
}
