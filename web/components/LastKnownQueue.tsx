/**
 * The queue as this device last saw it, shown after a reload that could not reach the
 * server (the service worker opened the app from its cache). Read-only: no decision can
 * be made on a copy, since the request may have been answered or have expired since; the
 * banner says so, and the live queue replaces this as soon as the link is up.
 */
import type { PermissionRequestEvent } from '../../protocol/index.ts';
import { useLastQueue } from '../pwa/offlineQueue.ts';
import { InputView } from './InputView.tsx';

function SavedCard({ request }: { request: PermissionRequestEvent }) {
  const titleId = `saved-title-${request.id}`;
  const context: Array<[string, string | undefined]> = [
    ['Session', request.context.sessionId],
    ['Folder', request.context.cwd],
    ['Agent', request.context.agent],
  ];
  return (
    <article className="card readonly" data-testid="last-known-card" data-request-id={request.id} aria-labelledby={titleId}>
      <header>
        <h3 id={titleId}>{request.toolName}</h3>
        <span className="muted small">Asked {new Date(request.timestamp).toLocaleTimeString()}</span>
      </header>
      <dl className="context">
        {context
          .filter((item): item is [string, string] => Boolean(item[1]))
          .map(([k, v]) => (
            <div key={k}>
              <dt>{k}</dt>
              <dd className="mono">{v}</dd>
            </div>
          ))}
      </dl>
      <InputView toolName={request.toolName} input={request.input} />
    </article>
  );
}

export function LastKnownQueue() {
  const saved = useLastQueue();
  if (saved.state === 'loading') return null;
  return (
    <div className="last-known">
      <p className="offline-banner" role="status" data-testid="offline-banner">
        {saved.state === 'saved' ? (
          <>
            <strong>Offline: last known queue</strong> (saved {new Date(saved.value.savedAt).toLocaleTimeString()}), decisions wait until Gatehouse is reachable
            again.
          </>
        ) : (
          <>
            <strong>Offline:</strong> no queue saved on this device yet. Decisions wait until Gatehouse is reachable again.
          </>
        )}
      </p>
      {saved.state === 'saved' && saved.value.requests.length === 0 && <p className="empty">The last known queue was empty.</p>}
      {saved.state === 'saved' && saved.value.requests.length > 0 && (
        <ol className="cards" aria-label="Last known requests, oldest first (read-only)">
          {saved.value.requests.map((request) => (
            <li key={request.id}>
              <SavedCard request={request} />
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}
