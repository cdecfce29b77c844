/**
 * Client of Gatehouse through its real WebSocket protocol (protocol-v1.md §3, snapshot
 * parts of contract-2 §3): `/ws`
 * with the `gatehouse.v1` subprotocol; `{"type":"ack","seq"}` for each request received,
 * then `permission-response` with a fresh `clientMsgId`. Acks are cumulative, so acking
 * each request also covers the `permission-resolved` events before it.
 *
 * It keeps the seq it holds and checks every sequenced event follows it by one (a gap or
 * a duplicate is a problem). With `failoverPorts` (several instances), a socket that
 * closes under it resumes at once with `since` and `epoch` on another of those ports,
 * the next one after a refusal: the floor of what a browser behind a load balancer sees
 * (a browser waits a back-off first).
 */
import { randomUUID } from 'node:crypto';
import { WebSocket } from 'ws';
import { SUBPROTOCOL } from '../../protocol/index.ts';
import type { BenchClient, ClientEvents, ConnectOptions } from './types.ts';

type Frame = {
  type: string;
  seq?: number;
  id?: string;
  epoch?: string;
  resumed?: boolean;
  input?: { createdAt?: number; decider?: number };
  requests?: unknown[];
  code?: string;
  message?: string;
  more?: boolean;
};

/** Frames that carry a seq of the log (the welcome and the snapshot carry the head). */
const UNSEQUENCED = new Set(['welcome', 'snapshot', 'snapshot-part']);

/** The ports to try after `current` failed, `attempt` counting the tries so far: the
 *  others in turn, starting at a different one per client (`spread`), so that one dead
 *  instance's clients spread over the survivors. */
export function nextPort(ports: readonly number[], current: number, spread: number, attempt: number): number | undefined {
  const others = ports.filter((p) => p !== current);
  if (others.length === 0) return undefined;
  return others[(spread + attempt) % others.length];
}

let spreadCounter = 0;

export function connectGatehouse(options: ConnectOptions, events: ClientEvents): BenchClient {
  const spread = spreadCounter++;
  let closing = false;
  let ws: WebSocket;
  let port = options.port;
  let epoch: string | undefined;
  let lastSeq: number | undefined;
  let attempts = 0;
  /** A snapshot larger than a frame comes in parts (contract-2 §3): count until the last. */
  let snapshotSoFar = 0;

  const open = () => {
    const params = new URLSearchParams();
    if (options.token) params.set('token', options.token);
    if (epoch !== undefined && lastSeq !== undefined) {
      params.set('since', String(lastSeq));
      params.set('epoch', epoch);
    }
    const query = params.size ? `?${params}` : '';
    const socket = new WebSocket(`ws://127.0.0.1:${port}/ws${query}`, SUBPROTOCOL);
    ws = socket;
    let welcomed = false;
    socket.on('message', (data) => {
      const msg = JSON.parse(String(data)) as Frame;
      if (typeof msg.seq === 'number' && !UNSEQUENCED.has(msg.type)) {
        const expected = (lastSeq ?? 0) + 1;
        if (msg.seq !== expected) {
          events.onProblem(`seq ${msg.seq} after ${lastSeq} on port ${port} (${msg.seq < expected ? 'a duplicate' : 'a gap'})`);
          if (msg.seq < expected) return;
        }
        lastSeq = msg.seq;
        events.onSeq?.(msg.seq);
      }
      switch (msg.type) {
        case 'permission-request':
          socket.send(JSON.stringify({ type: 'ack', seq: msg.seq }));
          events.onRequest(msg.id as string, msg.input?.createdAt, msg.input?.decider);
          break;
        case 'welcome':
          welcomed = true;
          attempts = 0;
          if (epoch !== undefined && msg.epoch !== epoch) events.onProblem(`port ${port} has epoch ${msg.epoch}, the client held ${epoch}`);
          if (lastSeq !== undefined && msg.resumed !== true) events.onProblem(`port ${port} refused to resume from seq ${lastSeq}`);
          epoch = msg.epoch;
          events.onWelcome?.(port, msg.resumed === true);
          if (msg.resumed) events.onReady(0);
          break;
        case 'snapshot':
        case 'snapshot-part':
          if (msg.type === 'snapshot' && typeof msg.seq === 'number') {
            lastSeq = msg.seq;
            events.onSeq?.(msg.seq);
          }
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
    socket.on('error', (err) => {
      if (!options.failoverPorts) events.onProblem(`socket error ${err.message}`);
    });
    socket.on('close', (code) => {
      if (closing || socket !== ws) return;
      const ports = options.failoverPorts;
      if (!ports) return events.onProblem(`closed ${code}`);
      // Killed with its instance (or refused while it was down): the next instance.
      const next = nextPort(ports, port, spread, welcomed ? 0 : attempts);
      attempts++;
      if (next === undefined || attempts > 50) return events.onProblem(`closed ${code}, no instance left after ${attempts} attempts`);
      port = next;
      // Refused by every one in turn: wait a little before the next round.
      if (attempts % ports.length === 0) setTimeout(open, 20);
      else open();
    });
  };
  open();

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
