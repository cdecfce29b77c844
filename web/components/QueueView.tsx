/**
 * The queue (oldest first) with keyboard control, and the history of finished requests.
 * Keys: a allow, d deny (with the card's reason), e edit, j/k move, ? help. Keys are
 * ignored while typing in a field. The selection rules (docs/ui.md, "Keyboard selection"):
 * a key acts only on the card shown as selected in the last render; after a decision the
 * selection moves to the next card (else the previous), never back to the top; a card
 * that arrives never takes the selection from another; held-down keys (repeats) never
 * decide. An agent filter narrows the cards and the keys alike.
 */
import { useEffect, useRef, useState } from 'react';
import { describeOutcome } from '../../machines/queue.ts';
import { humanMustLookOf } from '../../protocol/index.ts';
import { allowRequest, denyRequest, openEditor } from '../state/cardActions.ts';
import { neighbour } from '../state/selection.ts';
import { describeStored, outcomeClass, useServerHistory, type StoredEntry } from '../state/serverHistory.ts';
import { ConnectionContext } from '../state/connection.ts';
import { useShowLastKnownQueue } from '../pwa/offlineQueue.ts';
import { AgentBadge } from './AgentBadge.tsx';
import { LastKnownQueue } from './LastKnownQueue.tsx';
import { RequestCard } from './RequestCard.tsx';
import { HiddenWarning, Visible, inputSummary } from './Visible.tsx';

function isTyping(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  return target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName);
}

const ALL = '';

function useAgents(order: readonly string[]): Record<string, string> {
  return ConnectionContext.useSelector(
    (s) => {
      const out: Record<string, string> = {};
      for (const id of order) out[id] = s.context.queue.cards[id]?.request.context?.agent ?? '';
      return out;
    },
    (a, b) => Object.keys(a).length === Object.keys(b).length && Object.keys(a).every((k) => a[k] === b[k]),
  );
}

export function QueueView({ onHelp }: { onHelp: () => void }) {
  const actor = ConnectionContext.useActorRef();
  const order = ConnectionContext.useSelector((s) => s.context.queue.order);
  const agentOf = useAgents(order);
  const [agent, setAgent] = useState(ALL);
  const [selected, setSelected] = useState<string | null>(null);
  const offlineCopy = useShowLastKnownQueue();
  const agents = [...new Set(order.map((id) => agentOf[id]).filter((a) => a))].sort();
  const visible = agent === ALL ? order : order.filter((id) => agentOf[id] === agent);
  // The list as last rendered: where a selected card that left was, so its neighbour
  // (not the top card) takes over.
  const shown = useRef<string[]>([]);
  let current: string | null;
  if (selected !== null && visible.includes(selected)) current = selected;
  else if (selected !== null) current = neighbour(shown.current, visible, selected);
  else current = shown.current.length === 0 ? (visible[0] ?? null) : null;
  useEffect(() => {
    shown.current = visible;
    if (current !== selected) setSelected(current);
  });

  useEffect(() => {
    const mustLookOf = (id: string) => humanMustLookOf(actor.getSnapshot().context.queue.cards[id]?.request.context) !== undefined;
    const onKey = (e: KeyboardEvent) => {
      if (e.ctrlKey || e.metaKey || e.altKey || isTyping(e.target)) return;
      if (e.key === '?') {
        e.preventDefault();
        onHelp();
        return;
      }
      const index = current === null ? -1 : visible.indexOf(current);
      switch (e.key) {
        case 'j':
          if (visible.length) setSelected(visible[Math.min(visible.length - 1, index + 1)] ?? null);
          break;
        case 'k':
          if (visible.length) setSelected(visible[Math.max(0, index - 1)] ?? null);
          break;
        case 'a':
        case 'd':
          // A held-down key repeats: it must never decide the card that moved under it.
          if (!current || e.repeat) break;
          // Where the agent says a human must look, only a click allows (AgentTold.tsx says so on the card).
          if (e.key === 'a' && mustLookOf(current)) break;
          if (e.key === 'a') allowRequest(actor, current);
          else denyRequest(actor, current);
          setSelected(neighbour(visible, visible, current));
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
  }, [actor, visible, current, onHelp]);

  return (
    <div className="queue-layout">
      <section aria-labelledby="queue-title" className="queue">
        <h2 id="queue-title">
          Queue <span className="muted">({order.length})</span>
        </h2>
        {(agents.length > 0 || agent !== ALL) && !offlineCopy && (
          <label className="agent-filter small">
            Agent{' '}
            <select data-testid="agent-filter" value={agent} onChange={(e) => setAgent(e.target.value)}>
              <option value={ALL}>all agents</option>
              {agents.map((a) => (
                <option key={a} value={a}>
                  {a}
                </option>
              ))}
              {agent !== ALL && !agents.includes(agent) && <option value={agent}>{agent}</option>}
            </select>
          </label>
        )}
        {offlineCopy ? (
          <LastKnownQueue />
        ) : order.length === 0 ? (
          <p className="empty">No requests waiting. New ones appear here live.</p>
        ) : visible.length === 0 ? (
          <p className="empty">No requests from this agent waiting ({order.length} from others).</p>
        ) : (
          <ol className="cards" aria-label="Pending requests, oldest first">
            {visible.map((id) => (
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
  const cards = ConnectionContext.useSelector((s) => s.context.queue.cards);
  const stored = useServerHistory();
  // What this page saw live is the better account; the server's fills in the rest.
  const seen = new Set(history.map((h) => h.requestId));
  const older = stored.entries.filter((e) => !seen.has(e.id) && !cards[e.id]);
  return (
    <section aria-labelledby="history-title" className="history">
      <h2 id="history-title">History</h2>
      {stored.error && (
        <p className="phase error" role="alert">
          Older history unavailable: {stored.error}
        </p>
      )}
      {history.length === 0 && older.length === 0 ? (
        <p className="empty">{stored.loading ? 'Loading…' : 'Nothing finished yet.'}</p>
      ) : (
        <ol aria-label="Finished requests, newest first" data-testid="history">
          {history.map((entry) => (
            <li key={entry.requestId} data-request-id={entry.requestId} data-testid="history-entry" className={`outcome-${entry.outcome}`}>
              <span className="tool mono">
                <Visible text={entry.toolName} />
              </span>{' '}
              <AgentBadge agent={entry.context.agent} context={entry.context} />{' '}
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
          {older.map((entry) => (
            <StoredHistoryEntry key={entry.id} entry={entry} />
          ))}
        </ol>
      )}
      {stored.more && (
        <button type="button" onClick={stored.loadOlder} disabled={stored.loading}>
          {stored.loading ? 'Loading…' : 'Load older'}
        </button>
      )}
    </section>
  );
}

/** A finished request as the server stored it (before this page loaded). */
function StoredHistoryEntry({ entry }: { entry: StoredEntry }) {
  const at = entry.decidedAt ?? entry.createdAt;
  return (
    <li data-request-id={entry.id} data-testid="history-entry" data-source="server" className={outcomeClass(entry)}>
      <span className="tool mono">
        <Visible text={entry.toolName} />
      </span>{' '}
      <span className="what">
        <Visible text={describeStored(entry)} />
      </span>
      {entry.message && entry.status === 'resolved' && (
        <span className="muted">
          {' '}
          · “<Visible text={entry.message} />”
        </span>
      )}
      <code className="mono code summary" data-testid="history-input">
        <Visible text={inputSummary(entry.updatedInput ?? entry.input)} />
      </code>
      <HiddenWarning value={[entry.toolName, entry.updatedInput ?? entry.input, entry.message, entry.decidedBy]} />
      <time className="muted small" dateTime={new Date(at).toISOString()}>
        {' '}
        {new Date(at).toLocaleString()}
      </time>
    </li>
  );
}
