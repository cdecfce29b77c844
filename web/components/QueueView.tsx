/**
 * The queue (oldest first) with keyboard control, and the history of finished requests.
 * Keys: a allow, d deny (with the card's reason), e edit, j/k move, ? help. Keys are
 * ignored while typing in a field.
 */
import { useEffect, useState } from 'react';
import { describeOutcome } from '../../machines/queue.ts';
import { allowRequest, denyRequest, openEditor } from '../state/cardActions.ts';
import { ConnectionContext } from '../state/connection.ts';
import { useShowLastKnownQueue } from '../pwa/offlineQueue.ts';
import { LastKnownQueue } from './LastKnownQueue.tsx';
import { RequestCard } from './RequestCard.tsx';
import { HiddenWarning, Visible, inputSummary } from './Visible.tsx';

function isTyping(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  return target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName);
}

export function QueueView({ onHelp }: { onHelp: () => void }) {
  const actor = ConnectionContext.useActorRef();
  const order = ConnectionContext.useSelector((s) => s.context.queue.order);
  const [selected, setSelected] = useState<string | null>(null);
  const offlineCopy = useShowLastKnownQueue();
  const current = selected !== null && order.includes(selected) ? selected : (order[0] ?? null);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.ctrlKey || e.metaKey || e.altKey || isTyping(e.target)) return;
      if (e.key === '?') {
        e.preventDefault();
        onHelp();
        return;
      }
      const index = current === null ? -1 : order.indexOf(current);
      switch (e.key) {
        case 'j':
          if (order.length) setSelected(order[Math.min(order.length - 1, index + 1)]);
          break;
        case 'k':
          if (order.length) setSelected(order[Math.max(0, index - 1)]);
          break;
        case 'a':
          if (current) allowRequest(actor, current);
          break;
        case 'd':
          if (current) denyRequest(actor, current);
          break;
        case 'e':
          if (current) {
            e.preventDefault(); // keep the "e" out of the editor that opens
            openEditor(current);
          }
          break;
        default:
          return;
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [actor, order, current, onHelp]);

  return (
    <div className="queue-layout">
      <section aria-labelledby="queue-title" className="queue">
        <h2 id="queue-title">
          Queue <span className="muted">({order.length})</span>
        </h2>
        {offlineCopy ? (
          <LastKnownQueue />
        ) : order.length === 0 ? (
          <p className="empty">No requests waiting. New ones appear here live.</p>
        ) : (
          <ol className="cards" aria-label="Pending requests, oldest first">
            {order.map((id) => (
              <li key={id}>
                <RequestCard requestId={id} selected={id === current} onSelect={() => setSelected(id)} />
              </li>
            ))}
          </ol>
        )}
        <p className="muted small keys-hint">Keys: a allow · d deny · e edit · j/k move · ? help</p>
      </section>
      <HistoryList />
    </div>
  );
}

function HistoryList() {
  const history = ConnectionContext.useSelector((s) => s.context.queue.history);
  return (
    <section aria-labelledby="history-title" className="history">
      <h2 id="history-title">History</h2>
      {history.length === 0 ? (
        <p className="empty">Nothing finished yet.</p>
      ) : (
        <ol aria-label="Finished requests, newest first" data-testid="history">
          {history.map((entry) => (
            <li key={entry.requestId} data-request-id={entry.requestId} data-testid="history-entry" className={`outcome-${entry.outcome}`}>
              <span className="tool mono">
                <Visible text={entry.toolName} />
              </span>{' '}
              <span className="what">
                <Visible text={describeOutcome(entry)} />
              </span>
              {(entry.decider === 'another-window' || entry.decider === 'http') && <span className="badge">decided elsewhere</span>}
              {entry.message && entry.outcome !== 'cancelled' && (
                <span className="muted">
                  {' '}
                  · “<Visible text={entry.message} />”
                </span>
              )}
              {entry.note && (
                <span className="phase error">
                  {' '}
                  · <Visible text={entry.note} />
                </span>
              )}
              <code className="mono code summary" data-testid="history-input">
                <Visible text={inputSummary(entry.updatedInput ?? entry.input)} />
              </code>
              <HiddenWarning value={[entry.toolName, entry.updatedInput ?? entry.input, entry.message, entry.decidedBy]} />
              <time className="muted small" dateTime={new Date(entry.at).toISOString()}>
                {' '}
                {new Date(entry.at).toLocaleTimeString()}
              </time>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
