/**
 * The two screens that replace the views when the link is down for a reason the human
 * must act on (docs/ui.md, "Not authorised and Server unreachable"): a refused cookie
 * (no cookie, or this device was ended) replaces them; a server that does not answer at
 * all is announced above them (the offline copy of the queue stays readable). While
 * not authorised the saved last queue is forgotten, so a revoked phone stops showing it.
 */
import { type ReactNode, useEffect, useState } from 'react';
import { forgetLastQueue } from '../pwa/lastQueue.ts';
import { type Access, probeAccess } from '../state/access.ts';
import { ConnectionContext, linkStatus } from '../state/connection.ts';

export function AccessGate({ children }: { children: ReactNode }) {
  const actor = ConnectionContext.useActorRef();
  const status = ConnectionContext.useSelector(linkStatus);
  const attempts = ConnectionContext.useSelector((s) => s.context.attempt);
  const [access, setAccess] = useState<Access>('ok');
  const down = status === 'reconnecting' || status === 'offline';
  // Probed again on every failed attempt: a server that comes back, or a cookie refused later.
  const probe = status === 'connected' ? 'connected' : down ? `down:${attempts}` : null;
  useEffect(() => {
    if (probe === 'connected') {
      setAccess('ok');
      return;
    }
    if (probe === null) return;
    let live = true;
    void probeAccess().then((found) => {
      if (!live) return;
      setAccess(found);
      if (found === 'unauthorised') void forgetLastQueue();
    });
    return () => {
      live = false;
    };
  }, [probe]);
  switch (access) {
    case 'ok':
      return <>{children}</>;
    case 'unauthorised':
      return (
        <section role="alert" className="access-screen" data-testid="not-authorised">
          <h2>Not authorised: open the link the server printed (or pair this device)</h2>
          <p>The server refused this page's access: it has no session yet, or this device was ended.</p>
        </section>
      );
    case 'unreachable':
      // Above the views, not instead of them: the read-only last known queue (offline copy)
      // stays readable below it.
      return (
        <>
          <section role="alert" className="access-screen" data-testid="server-unreachable">
            <h2>Server unreachable</h2>
            <p>The Gatehouse server does not answer. It may have stopped, or this device lost its network.</p>
            <button type="button" onClick={() => actor.send({ type: 'connection.retry' })}>
              Retry
            </button>
          </section>
          {children}
        </>
      );
    default: {
      const never: never = access;
      return never;
    }
  }
}
