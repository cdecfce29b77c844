/**
 * WebSocket routes: `/ws`, and upgrades at `/` (so `wscat -c ws://localhost:3000/?token=…`
 * works). The security guard has already run when these handlers see a request.
 */
import type { Hono } from 'hono';
import type { UpgradeWebSocket, WSEvents } from 'hono/ws';
import type { WebSocket } from 'ws';
import type { ClientConnection } from './connection.ts';
import { remoteAddressOf } from '../http/remoteAddress.ts';
import type { Hub } from './hub.ts';

export function mountWebSocketRoutes(app: Hono, upgradeWebSocket: UpgradeWebSocket, hub: Hub): void {
  const handler = upgradeWebSocket((c) => {
    let conn: ClientConnection | undefined;
    const params = {
      since: c.req.query('since'),
      epoch: c.req.query('epoch'),
      label: c.req.query('label'),
      browser: c.req.header('origin') !== undefined,
      address: remoteAddressOf(c.env),
    };
    const events: WSEvents<WebSocket> = {
      onOpen(_event, ws) {
        conn = hub.attach(ws.raw as WebSocket, params);
      },
      onMessage(event, _ws) {
        if (conn) hub.onFrame(conn, event.data);
      },
      onClose(event) {
        if (conn) hub.detach(conn, (event as CloseEvent).code);
      },
      onError() {
        // Logged by the hub's raw 'error' listener; the close event follows.
      },
    };
    return events as WSEvents;
  });
  app.get('/ws', handler);
  // Not an upgrade: falls through to the next handler of `/` (the web UI).
  app.get('/', handler);
}
