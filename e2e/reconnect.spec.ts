/**
 * A decision sent just before the socket drops (CORE-2): the server commits it, the page
 * never gets the ack, and the reconnect gives the page a new client id. The page must
 * settle the decision from the replay (or by sending it again with its clientMsgId), never
 * stay "confirming…". The drop is made by a WebSocket route in front of the real server.
 */
import type { WebSocketRoute } from '@playwright/test';
import { bash, card, expect, historyEntry, openApp, test } from './support/gatehouse.ts';

test('CORE-2: a decision whose ack is lost in a drop is settled after the reconnect, not left confirming', async ({ page, gatehouse }) => {
  let connections = 0;
  let cut: (() => void) | null = null;
  const decided = new Promise<string>((resolve) => {
    void page.routeWebSocket(/\/ws/, (ws: WebSocketRoute) => {
      const first = ++connections === 1;
      const server = ws.connectToServer();
      let blackhole = false;
      ws.onMessage((message) => {
        server.send(message);
        const frame = typeof message === 'string' ? (JSON.parse(message) as { type?: string; requestId?: string }) : {};
        if (first && frame.type === 'permission-response') {
          // From here the page hears nothing more on this socket: the ack is lost.
          blackhole = true;
          cut = () => {
            void ws.close({ code: 4001, reason: 'cut by the test' });
            void server.close();
          };
          resolve(frame.requestId!);
        }
      });
      server.onMessage((message) => {
        if (!blackhole) ws.send(message);
      });
    });
  });
  await openApp(page, gatehouse);
  const id = await gatehouse.createRequest(bash('make deploy'));
  await card(page, id).getByRole('button', { name: 'Allow', exact: true }).click();
  expect(await decided).toBe(id);
  // The server committed it before the page learns anything.
  expect(await gatehouse.outcome(id)).toMatchObject({ status: 'resolved', decision: 'allow' });
  await expect(card(page, id).getByRole('status')).toBeVisible();
  cut!();
  await expect(page.getByTestId('connection-status')).toHaveText(/Connected/, { timeout: 20_000 });
  expect(connections).toBeGreaterThanOrEqual(2);
  await expect(historyEntry(page, id)).toContainText('Allowed by you');
  await expect(historyEntry(page, id)).not.toContainText('confirming');
});
