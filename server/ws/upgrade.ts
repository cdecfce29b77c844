/**
 * The ONLY file that imports @hono/node-ws (architecture.md): moving to the WebSocket
 * support built into @hono/node-server 2 is a change here alone.
 *
 * @hono/node-ws 1.3.1 builds its `WebSocketServer` with no options; the options object is
 * read at each upgrade, so setting `maxPayload` and permessage-deflate on it afterwards
 * takes effect (toolchain.md). Node 20 has no global `ErrorEvent`, which its error path
 * constructs: a minimal one is defined so socket errors reach `onError` instead of
 * printing a ReferenceError.
 */
import { createNodeWebSocket } from '@hono/node-ws';
import type { Hono } from 'hono';
import type { UpgradeWebSocket } from 'hono/ws';
import { STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Http2SecureServer, Http2Server } from 'node:http2';

if (typeof (globalThis as { ErrorEvent?: unknown }).ErrorEvent === 'undefined') {
  class ErrorEventPolyfill extends Event {
    readonly error: unknown;
    readonly message: string;
    constructor(type: string, init: { error?: unknown; message?: string } = {}) {
      super(type);
      this.error = init.error;
      this.message = init.message ?? String((init.error as Error | undefined)?.message ?? '');
    }
  }
  (globalThis as { ErrorEvent?: unknown }).ErrorEvent = ErrorEventPolyfill;
}

/**
 * node-ws answers a refused upgrade with its status line and an empty body, so a client
 * would learn that its `?label=` was refused but not why. Its one write of that answer
 * (`socket.end`) is replaced, for this socket only, by the same status with our JSON
 * error body (docs/protocol.md: bad input gets an error naming the problem).
 */
function explainRefusal(socket: Duplex, status: number, contentType: string | null, body: string): void {
  if (!body) return;
  const end = socket.end.bind(socket);
  const type = (contentType ?? 'text/plain; charset=utf-8').replace(/[^\x20-\x7e]/g, '');
  socket.end = ((..._ignored: unknown[]) => {
    socket.end = end;
    return end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Type: ${type}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }) as Duplex['end'];
}

export type UpgradeOptions = {
  maxPayload: number;
  /** Frames at least this big are compressed when the client offers permessage-deflate. */
  deflateThreshold?: number;
};

export type Upgrader = {
  upgradeWebSocket: UpgradeWebSocket;
  /** The app whose middleware (security guard) decides each upgrade. */
  bindApp(app: Hono): void;
  inject(server: Server | Http2Server | Http2SecureServer): void;
};

export function createUpgrader(options: UpgradeOptions): Upgrader {
  let bound: Hono | undefined;
  // node-ws needs the app only to run it on upgrade requests; bind it lazily because the
  // app's routes need `upgradeWebSocket` first.
  const appProxy = {
    request: async (...args: Parameters<Hono['request']>) => {
      if (!bound) throw new Error('upgrader used before bindApp');
      const response = await bound.request(...args);
      const socket = (args[2] as { incoming?: IncomingMessage } | undefined)?.incoming?.socket;
      if (response.status >= 400 && socket) explainRefusal(socket, response.status, response.headers.get('content-type'), await response.text());
      return response;
    },
  } as unknown as Hono;
  const nodeWs = createNodeWebSocket({ app: appProxy });
  Object.assign(nodeWs.wss.options, {
    maxPayload: options.maxPayload,
    perMessageDeflate: {
      threshold: options.deflateThreshold ?? 1024,
      // No context takeover: each connection keeps no zlib window between messages, so
      // memory stays flat with many clients; large inputs still compress well alone.
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
    },
  });
  return {
    upgradeWebSocket: nodeWs.upgradeWebSocket as UpgradeWebSocket,
    bindApp(app) {
      bound = app;
    },
    inject(server) {
      nodeWs.injectWebSocket(server as Server);
    },
  };
}
