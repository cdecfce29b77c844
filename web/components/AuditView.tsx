/**
 * The audit log, read-only: newest first, a page at a time ("Load older" follows the
 * server's cursor), filtered by tool, how and device on the server. Each entry shows what
 * (tool, input summary), how (human, rule, timeout, cancel), who (device or decidedBy, and
 * the path) and when; the whole entry is fetched on demand. The answers are parsed with
 * protocol/http.ts's schemas. Every field goes through `Visible`, with the warning on an
 * entry that holds hidden characters (docs/ui.md); a device name in the filter's options,
 * which cannot hold markup, is its escaped text.
 */
import { useCallback, useEffect, useState } from 'react';
import { z } from 'zod';
import { AUDIT_HOWS, auditEntryAnswer, auditPage, visibleText, type AuditEntry, type AuditListEntry } from '../../protocol/index.ts';
import { ApiError, api, appHeaders, errorText } from '../state/api.ts';
import { AgentBadge } from './AgentBadge.tsx';
import { HiddenWarning, Visible } from './Visible.tsx';

type Filters = { toolName: string; how: string; deviceId: string };
const NO_FILTERS: Filters = { toolName: '', how: '', deviceId: '' };
const deviceList = z.object({ devices: z.array(z.looseObject({ id: z.string(), name: z.string() })) });

function queryOf(filters: Filters, extra: Record<string, string | null>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries({ ...filters, ...extra })) if (value) params.set(key, value);
  const text = params.toString();
  return text ? `?${text}` : '';
}

/** The export with these filters, saved as a file. A fetch, not a link: the server wants the
 *  app's header on a call that only the session cookie authenticates (docs/operations.md). */
async function exportJsonl(filters: Filters): Promise<void> {
  const response = await fetch(`/api/audit${queryOf(filters, { format: 'jsonl' })}`, { credentials: 'same-origin', headers: appHeaders() });
  if (!response.ok) throw new ApiError(`export failed: HTTP ${response.status}`, response.status);
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement('a');
  link.href = url;
  link.download = 'gatehouse-audit.jsonl';
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** How it ended, in words: the outcome and the kind of decider. */
function howText(e: AuditListEntry): string {
  if (e.how === undefined) return 'pending';
  switch (e.how) {
    case 'human':
      return `${e.decision === 'allow' ? 'Allowed' : 'Denied'} by a human`;
    case 'rule':
      return `${e.decision === 'allow' ? 'Allowed' : 'Denied'} by a rule`;
    case 'timeout':
      return 'Timed out (denied)';
    case 'cancel':
      return 'Cancelled';
    default: {
      const never: never = e.how;
      return never;
    }
  }
}

/** Who decided: the device's name when a device did, else the server's decidedBy; and the path. */
function whoText(e: AuditListEntry): string {
  const who = e.deviceName ?? e.decidedBy ?? '';
  return [who, e.via && e.via !== who ? `via ${e.via}` : '', e.address ? `from ${e.address}` : ''].filter(Boolean).join(' ');
}

function EntryDetails({ requestId }: { requestId: string }) {
  const [whole, setWhole] = useState<AuditEntry | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [open, setOpen] = useState(false);
  useEffect(() => {
    if (!open || whole) return;
    api(`/api/audit/${encodeURIComponent(requestId)}`, auditEntryAnswer)
      .then((r) => setWhole(r.entry))
      .catch((e: unknown) => setError(errorText(e)));
  }, [open, whole, requestId]);
  return (
    <details onToggle={(e) => setOpen((e.target as HTMLDetailsElement).open)}>
      <summary>Details</summary>
      {error && <p className="phase error">{error}</p>}
      {whole && (
        <>
          <HiddenWarning value={whole} />
          <pre className="mono json code" data-testid="audit-whole">
            <Visible text={JSON.stringify(whole, null, 2)} />
          </pre>
        </>
      )}
    </details>
  );
}

export function AuditView() {
  const [entries, setEntries] = useState<AuditListEntry[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  const [tool, setTool] = useState('');
  const [devices, setDevices] = useState<Array<{ id: string; name: string }>>([]);

  const load = useCallback(
    (before: string | null) => {
      api(`/api/audit${queryOf(filters, { before })}`, auditPage)
        .then((r) => {
          setEntries((old) => (before && old ? [...old, ...r.entries] : r.entries));
          setNext(r.next ?? null);
          setError(null);
        })
        .catch((e: unknown) => setError(errorText(e)));
    },
    [filters],
  );
  useEffect(() => load(null), [load]);
  useEffect(() => {
    api('/api/devices', deviceList)
      .then((r) => setDevices(r.devices.map((d) => ({ id: d.id, name: d.name }))))
      .catch(() => setDevices([]));
  }, []);

  return (
    <section aria-labelledby="audit-title" className="audit">
      <h2 id="audit-title">Audit log</h2>
      <form
        className="toolbar"
        onSubmit={(e) => {
          e.preventDefault();
          setFilters((f) => ({ ...f, toolName: tool.trim() }));
        }}
      >
        <label>
          Tool{' '}
          <input
            type="search"
            value={tool}
            placeholder="e.g. Bash"
            onChange={(e) => setTool(e.target.value)}
            onBlur={() => setFilters((f) => ({ ...f, toolName: tool.trim() }))}
          />
        </label>
        <label>
          How{' '}
          <select value={filters.how} onChange={(e) => setFilters((f) => ({ ...f, how: e.target.value }))}>
            <option value="">any</option>
            {AUDIT_HOWS.map((how) => (
              <option key={how} value={how}>
                {how}
              </option>
            ))}
          </select>
        </label>
        <label>
          Device{' '}
          <select value={filters.deviceId} onChange={(e) => setFilters((f) => ({ ...f, deviceId: e.target.value }))}>
            <option value="">any</option>
            {devices.map((d) => (
              <option key={d.id} value={d.id}>
                {visibleText(d.name).text}
              </option>
            ))}
          </select>
        </label>
        <button type="button" onClick={() => load(null)}>
          Refresh
        </button>
        <button type="button" onClick={() => void exportJsonl(filters).catch((e: unknown) => setError(errorText(e)))}>
          Export (JSON Lines)
        </button>
      </form>
      {error && (
        <p className="phase error" role="alert">
          Audit log unavailable: {error}
        </p>
      )}
      {entries && entries.length === 0 && <p className="empty">No entries.</p>}
      {entries && entries.length > 0 && (
        <ol className="audit-list">
          {entries.map((e) => {
            const at = e.decidedAt ?? e.requestedAt;
            const who = whoText(e);
            return (
              <li key={e.requestId} data-testid="audit-entry" data-request-id={e.requestId}>
                <time className="small muted" dateTime={new Date(at).toISOString()}>
                  {new Date(at).toLocaleString()}
                </time>{' '}
                <strong data-testid="audit-how">
                  {howText(e)}
                  {e.ruleId && (
                    <>
                      {' '}
                      <Visible text={e.ruleId} />
                    </>
                  )}
                </strong>{' '}
                <span className="mono code" data-testid="audit-tool">
                  <Visible text={e.toolName} />
                </span>{' '}
                <code className="mono code summary" data-testid="audit-input">
                  <Visible text={e.summary} />
                </code>{' '}
                {who && (
                  <span className="muted" data-testid="audit-who">
                    by <Visible text={who} />
                  </span>
                )}
                {e.message && (
                  <span className="muted">
                    {' '}
                    “<Visible text={e.message} />”
                  </span>
                )}{' '}
                <AgentBadge agent={e.agent} {...(e.agentChoice ? { choice: e.agentChoice } : {})} />
                <HiddenWarning value={{ ...e, inputHidden: undefined }} also={e.inputHidden ?? []} />
                <EntryDetails requestId={e.requestId} />
              </li>
            );
          })}
        </ol>
      )}
      {next && (
        <button type="button" onClick={() => load(next)}>
          Load older
        </button>
      )}
    </section>
  );
}
