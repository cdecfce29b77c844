/**
 * History from the server (`GET /api/history`, protocol/http.ts `historyPage`), so that
 * a reloaded page shows what finished before it loaded instead of an empty list
 * (docs/ui.md, "History"). The page's own history (what it saw live, with who decided
 * as this window knows it) comes first; these older entries follow, newest first, with
 * "Load older" for the next page. An entry reads from what the server stored: the
 * decision and who made it (a screen's client id, the HTTP API, a rule, the deadline, the
 * agent), never guessed as "this window", which a reloaded page cannot know.
 */
import { useCallback, useEffect, useState } from 'react';
import { historyPage, type HistoryPage } from '../../protocol/index.ts';
import { cancelReasonText } from '../../machines/queue.ts';
import { api, errorText } from './api.ts';

export type StoredEntry = HistoryPage['requests'][number];

export function describeStored(entry: StoredEntry): string {
  switch (entry.status) {
    case 'pending':
      return 'Waiting';
    case 'timedOut':
      return 'Timed out, denied: the deadline passed';
    case 'cancelled': {
      const elsewhere = cancelReasonText(entry.reason);
      return elsewhere ?? `Cancelled by the agent${entry.reason ? ` (${entry.reason})` : ''}`;
    }
    case 'resolved': {
      const what = entry.decision === 'allow' ? 'Allowed' : 'Denied';
      const by = entry.decidedBy ?? '';
      if (by.startsWith('rule:')) return `${what} by a remembered rule (${by.slice('rule:'.length)})`;
      if (by === 'http') return `${what} over the HTTP API`;
      return by ? `${what} by a screen (${by})` : what;
    }
    default: {
      const never: never = entry.status;
      return never;
    }
  }
}

export function outcomeClass(entry: StoredEntry): string {
  if (entry.status === 'resolved') return entry.decision === 'allow' ? 'outcome-allowed' : 'outcome-denied';
  return `outcome-${entry.status}`;
}

export type ServerHistory = { entries: StoredEntry[]; more: boolean; loading: boolean; error: string | null; loadOlder(): void };

export function useServerHistory(): ServerHistory {
  const [entries, setEntries] = useState<StoredEntry[]>([]);
  const [next, setNext] = useState<string | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback((before: string | undefined, live: () => boolean) => {
    setLoading(true);
    api(`/api/history${before ? `?before=${encodeURIComponent(before)}` : ''}`, historyPage)
      .then((page) => {
        if (!live()) return;
        setEntries((held) => {
          const seen = new Set(held.map((e) => e.id));
          return [...held, ...page.requests.filter((r) => !seen.has(r.id))];
        });
        setNext(page.next);
        setError(null);
      })
      .catch((e: unknown) => live() && setError(errorText(e)))
      .finally(() => live() && setLoading(false));
  }, []);
  useEffect(() => {
    let live = true;
    load(undefined, () => live);
    return () => {
      live = false;
    };
  }, [load]);
  return { entries, more: next !== undefined, loading, error, loadOlder: () => load(next, () => true) };
}
