/**
 * Test helper: a WebSocket client that records every frame from the server and lets a
 * test await the frame it expects, with a bounded timeout (no sleeping).
 *
 *   const client = await connectClient(server.wsUrl());
 *   const welcome = await client.waitFor((m) => m.type === 'welcome');
 *   client.send({ type: 'permission-response', requestId, decision: 'allow', clientMsgId });
 *   await client.waitFor((m) => m.type === 'ack' && m.ref === clientMsgId);
 *   client.events();          // sequenced events received so far, in order
 *   await client.close();
 */
import WebSocket, { type ClientOptions } from 'ws';
import type { IncomingMessage } from 'node:http';

export type Frame = Record<string, any> & { type: string };

export type ConnectOptions = ClientOptions & {
  /** Subprotocols to offer, e.g. ['gatehouse.v1']. */
  protocols?: string[];
  /** Default 5 s. */
  timeoutMs?: number;
};

export type TestClient = {
  ws: WebSocket;
  /** Every parsed frame, in arrival order. */
  frames: Frame[];
  /** The size in bytes of each message received, parsed or not (index i is `frames[i]` while `unparsed` is empty). */
  frameBytes: number[];
  /** Frames that were not JSON (should stay empty). */
  unparsed: string[];
  /** Sequenced events (frames with a numeric `seq`, except welcome and snapshot). */
  events(): Frame[];
  /** The first frame (from `fromIndex`, default 0) matching `predicate`, waiting up to `timeoutMs`. */
  waitFor(predicate: (frame: Frame) => boolean, options?: { timeoutMs?: number; fromIndex?: number }): Promise<Frame>;
  /** Waits until `count` frames match. */
  waitForCount(predicate: (frame: Frame) => boolean, count: number, options?: { timeoutMs?: number }): Promise<Frame[]>;
  send(message: unknown): void;
  sendRaw(data: string | Buffer): void;
  /** Close code and reason once closed. */
  closed: Promise<{ code: number; reason: string }>;
  close(code?: number): Promise<{ code: number; reason: string }>;
  /** Abrupt end (no close frame). */
  terminate(): void;
};

/** welcome and snapshot carry the head, not a place; snapshot-part carries no seq. */
export function isSequencedEvent(frame: Frame): boolean {
  return typeof frame.seq === 'number' && frame.type !== 'welcome' && frame.type !== 'snapshot' && frame.type !== 'snapshot-part';
}

/** Connect and resolve once open; rejects with the HTTP status when the upgrade is refused. */
export function connectClient(url: string, options: ConnectOptions = {}): Promise<TestClient> {
  const { protocols, timeoutMs = 5_000, ...wsOptions } = options;
  const ws = new WebSocket(url, protocols ?? [], wsOptions);
  const frames: Frame[] = [];
  const frameBytes: number[] = [];
  const unparsed: string[] = [];
  const listeners = new Set<() => void>();
  ws.on('message', (data, isBinary) => {
    const text = isBinary ? '' : data.toString();
    frameBytes.push(Buffer.isBuffer(data) ? data.length : Buffer.byteLength(text));
    try {
      frames.push(JSON.parse(text));
    } catch {
      unparsed.push(text);
    }
    for (const listener of [...listeners]) listener();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code, reason) => {
      resolve({ code, reason: reason.toString() });
      for (const listener of [...listeners]) listener();
    });
  });
  ws.on('error', () => {
    // Reported through `closed` or the connect rejection.
  });

  const client: TestClient = {
    ws,
    frames,
    frameBytes,
    unparsed,
    events: () => frames.filter(isSequencedEvent),
    waitFor(predicate, opts = {}) {
      const from = opts.fromIndex ?? 0;
      const find = () => frames.slice(from).find(predicate);
      const found = find();
      if (found) return Promise.resolve(found);
      return new Promise<Frame>((resolve, reject) => {
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(
            new Error(`no matching frame within ${opts.timeoutMs ?? timeoutMs} ms; got:\n${frames.map((f) => JSON.stringify(f).slice(0, 300)).join('\n')}`),
          );
        }, opts.timeoutMs ?? timeoutMs);
        const check = () => {
          const frame = find();
          if (frame) {
            clearTimeout(timer);
            listeners.delete(check);
            resolve(frame);
          } else if (ws.readyState === WebSocket.CLOSED) {
            clearTimeout(timer);
            listeners.delete(check);
            reject(new Error(`socket closed before a matching frame; got:\n${frames.map((f) => JSON.stringify(f).slice(0, 300)).join('\n')}`));
          }
        };
        listeners.add(check);
      });
    },
    waitForCount(predicate, count, opts = {}) {
      const matching = () => frames.filter(predicate);
      if (matching().length >= count) return Promise.resolve(matching());
      return new Promise<Frame[]>((resolve, reject) => {
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`only ${matching().length} of ${count} matching frames within ${opts.timeoutMs ?? timeoutMs} ms`));
        }, opts.timeoutMs ?? timeoutMs);
        const check = () => {
          if (matching().length >= count) {
            clearTimeout(timer);
            listeners.delete(check);
            resolve(matching());
          }
        };
        listeners.add(check);
      });
    },
    send(message) {
      ws.send(JSON.stringify(message));
    },
    sendRaw(data) {
      ws.send(data);
    },
    closed,
    async close(code = 1000) {
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(code);
      return closed;
    },
    terminate() {
      ws.terminate();
    },
  };

  return new Promise<TestClient>((resolve, reject) => {
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`WebSocket did not open within ${timeoutMs} ms`));
    }, timeoutMs);
    ws.once('open', () => {
      clearTimeout(timer);
      resolve(client);
    });
    ws.once('unexpected-response', (_req, res: IncomingMessage) => {
      clearTimeout(timer);
      reject(Object.assign(new Error(`upgrade refused with HTTP ${res.statusCode}`), { status: res.statusCode }));
      res.resume();
      ws.terminate();
    });
    ws.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** A snapshot that did not fit one frame comes as `snapshot` (`more: true`) and then
 *  `snapshot-part` frames until one has `more: false` (contract-2 §3). Waits for all of
 *  them and gives the whole snapshot (every request, in order) and its frames. */
export async function waitForWholeSnapshot(client: TestClient, options: { timeoutMs?: number; fromIndex?: number } = {}) {
  const first = await client.waitFor((f) => f.type === 'snapshot', options);
  const frames: Frame[] = [first];
  let more = first.more === true;
  while (more) {
    const part = await client.waitFor((f) => f.type === 'snapshot-part', { ...options, fromIndex: client.frames.indexOf(frames[frames.length - 1]!) + 1 });
    frames.push(part);
    more = part.more === true;
  }
  const snapshot: Frame = { ...first, requests: frames.flatMap((f) => f.requests as Frame[]) };
  delete snapshot.more;
  return { snapshot, frames };
}

/** Connect and wait for the welcome (and the whole snapshot, all its parts, when not resumed). */
export async function connectAndJoin(url: string, options: ConnectOptions = {}) {
  const client = await connectClient(url, options);
  const welcome = await client.waitFor((f) => f.type === 'welcome');
  const whole = welcome.resumed ? undefined : await waitForWholeSnapshot(client, options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {});
  return { client, welcome, snapshot: whole?.snapshot, snapshotFrames: whole?.frames };
}
