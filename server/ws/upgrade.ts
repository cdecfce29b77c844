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
import type { Server } from 'node:http';
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
    request: (...args: Parameters<Hono['request']>) => {
      if (!bound) throw new Error('upgrader used before bindApp');
      return bound.request(...args);
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
