/**
 * A request the page held finished while it was disconnected, and nothing on the socket
 * will say how (the connection machine emits `request.unseen`): ask the server once over
 * HTTP and hand the answer to the machine, which settles the history entry
 * ("Finished while this window was disconnected" then names the real outcome). A failure
 * leaves the entry as it is: it already says the outcome was not seen.
 */
import { requestView } from '../../protocol/index.ts';
import { api } from './api.ts';
import type { ConnectionRef } from './connection.ts';

export function fetchUnseenOutcome(connection: ConnectionRef, requestId: string): void {
  api(`/api/permission-requests/${encodeURIComponent(requestId)}`, requestView)
    .then((view) => connection.send({ type: 'queue.outcome', view }))
    .catch(() => {
      // Not known any more (pruned) or unreachable: "outcome not seen" stays true.
    });
}
