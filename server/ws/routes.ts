/**
 * WebSocket routes: `/ws`, and upgrades at `/` (so `wscat -c ws://localhost:3000/?token=…`
 * works). The security guard has already run when these handlers see a request; the
 * label guard refuses a `?label=` a client may not take. A socket opened with a device's
 * cookie carries that device, so ending the device closes it.
 */
import type { Context, Hono, Next } from 'hono';
import type { UpgradeWebSocket, WSEvents } from 'hono/ws';
import type { WebSocket } from 'ws';
import { ERROR_CODES } from '../../protocol/index.ts';
import { errorResponse } from '../http/errors.ts';
import { checkLabel, type ClientConnection } from './connection.ts';
import { remoteAddressOf } from '../http/remoteAddress.ts';
import { CLOSE_CODES } from '../../protocol/index.ts';
import { deviceOf } from '../security/guard.ts';
import type { DeviceStore } from '../store/deviceStore.ts';
import type { Hub } from './hub.ts';

export function mountWebSocketRoutes(app: Hono, upgradeWebSocket: UpgradeWebSocket, hub: Hub, devices?: Pick<DeviceStore, 'get'>): void {
  const handler = upgradeWebSocket((c) => {
    let conn: ClientConnection | undefined;
    const params = {
      since: c.req.query('since'),
      epoch: c.req.query('epoch'),
      label: c.req.query('label'),
      browser: c.req.header('origin') !== undefined,
      address: remoteAddressOf(c.env),
      device: deviceOf(c),
    };
    // Frames that arrive while the device is checked again wait here, in order.
    let early: Array<Parameters<NonNullable<WSEvents['onMessage']>>[0]['data']> | undefined;
    let closed = false;
    const events: WSEvents<WebSocket> = {
      onOpen(_event, ws) {
        const attach = () => {
          conn = hub.attach(ws.raw as WebSocket, params);
          for (const data of early?.splice(0) ?? []) hub.onFrame(conn, data);
          early = undefined;
        };
        const device = params.device;
        if (!device || !devices) return attach();
        // Ended between the upgrade's check and now: it must not get a socket (nor the
        // welcome's snapshot). The store answers asynchronously, so the socket is attached
        // only once it did; a revocation after that finds the socket in the hub.
        early = [];
        devices.get(device.id).then(
          (still) => {
            if (closed) return;
            if (still) attach();
            else ws.close(CLOSE_CODES.policyViolation, 'device ended');
          },
          () => {
            if (!closed) ws.close(1011, 'could not check the device');
          },
        );
      },
      onMessage(event, _ws) {
        if (conn) hub.onFrame(conn, event.data);
        else early?.push(event.data);
      },
      onClose(event) {
        closed = true;
        // @hono/node-ws passes a close event with the code; hono types it as the DOM's
        // CloseEvent, which the node project (no DOM lib) does not have.
        if (conn) hub.detach(conn, (event as { code?: number }).code);
      },
      onError() {
        // Logged by the hub's raw 'error' listener; the close event follows.
      },
    };
    return events as WSEvents;
  });
  // A `?label=` that is reserved or malformed refuses the upgrade with 400 naming the
  // problem (docs/protocol.md): a client never decides under a name it did not get.
  const labelGuard = async (c: Context, next: Next) => {
    if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') return next();
    const checked = checkLabel(c.req.query('label'));
    if (!checked.ok) return errorResponse(c, 400, ERROR_CODES.invalidMessage, checked.problem);
    return next();
  };
  app.get('/ws', labelGuard, handler);
  // Not an upgrade: falls through to the next handler of `/` (the web UI).
  app.get('/', labelGuard, handler);
}
