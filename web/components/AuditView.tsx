/**
 * The audit log, read-only: the newest entries first, known fields in columns and the
 * whole entry on demand. Paging uses `?before=` when the server returns a cursor. Every
 * field goes through `Visible`, with the warning on an entry that holds hidden characters.
 */
import { useCallback, useEffect, useState } from 'react';
import { z } from 'zod';
import { api, errorText } from '../state/api.ts';
import { HiddenWarning, Visible, inputSummary } from './Visible.tsx';

const entry = z.looseObject({});
type Entry = z.infer<typeof entry>;
const auditAnswer = z.union([
  z.looseObject({ entries: z.array(entry), next: z.union([z.string(), z.number()]).optional().nullable() }),
  z.looseObject({ events: z.array(entry) }).transform((x) => ({ entries: x.events, next: undefined })),
  z.array(entry).transform((entries) => ({ entries, next: undefined })),
]);

const pick = (e: Entry, ...keys: string[]): string => {
  for (const k of keys) {
    const v = e[k];
    if (typeof v === 'string' || typeof v === 'number') return String(v);
  }
  return '';
};

export function AuditView() {
  const [entries, setEntries] = useState<Entry[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [filter, setFilter] = useState('');

  const load = useCallback((before: string | null) => {
    const query = before ? `?before=${encodeURIComponent(before)}` : '';
    api(`/api/audit${query}`, auditAnswer)
      .then((r) => {
        setEntries((old) => (before && old ? [...old, ...r.entries] : r.entries));
        setNext(r.next === undefined || r.next === null ? null : String(r.next));
        setError(null);
      })
      .catch((e: unknown) => setError(errorText(e)));
  }, []);
  useEffect(() => load(null), [load]);

  const shown = (entries ?? []).filter((e) => !filter || JSON.stringify(e).toLowerCase().includes(filter.toLowerCase()));
  return (
    <section aria-labelledby="audit-title" className="audit">
      <h2 id="audit-title">Audit log</h2>
      <div className="toolbar">
        <label>
          Filter <input type="search" value={filter} onChange={(e) => setFilter(e.target.value)} />
        </label>
        <button type="button" onClick={() => load(null)}>
          Refresh
        </button>
      </div>
      {error && (
        <p className="phase error" role="alert">
          Audit log unavailable: {error}
        </p>
      )}
      {entries && shown.length === 0 && <p className="empty">No entries.</p>}
      {shown.length > 0 && (
        <ol className="audit-list">
          {shown.map((e, i) => {
            const at = Number(pick(e, 'at', 'timestamp', 'createdAt'));
            const by = pick(e, 'decidedBy', 'actor', 'by');
            return (
              <li key={pick(e, 'id', 'seq') || i} data-testid="audit-entry">
                <span className="small muted">{Number.isFinite(at) && at > 0 ? new Date(at).toLocaleString() : ''}</span>{' '}
                <strong>
                  <Visible text={pick(e, 'action', 'type', 'kind', 'event')} />
                </strong>{' '}
                <span className="mono code">
                  <Visible text={pick(e, 'toolName')} />
                </span>{' '}
                {e.input !== undefined && (
                  <>
                    <code className="mono code summary" data-testid="audit-input">
                      <Visible text={inputSummary(e.input)} />
                    </code>{' '}
                  </>
                )}
                <Visible text={pick(e, 'decision', 'outcome', 'status')} />{' '}
                {by && (
                  <span className="muted">
                    by <Visible text={by} />
                  </span>
                )}
                <HiddenWarning value={e} />
                <details>
                  <summary>Details</summary>
                  <pre className="mono json code">
                    <Visible text={JSON.stringify(e, null, 2)} />
                  </pre>
                </details>
              </li>
            );
          })}
        </ol>
      )}
      {next && (
        <button type="button" onClick={() => load(next)}>
          Older entries
        </button>
      )}
    </section>
  );
}
