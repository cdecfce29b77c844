/**
 * The audit log, read-only (docs/ui.md, "Audit"): a table of when, what (tool, input
 * summary), how it ended (protocol/outcome.ts words) and who (the device, else the
 * server's `decidedBy`, typed; and the path), newest first a page at a time ("Load older"
 * follows the server's cursor). Filters by outcome, how, tool, agent and device run on the
 * server; the text filter searches the entries loaded. Exports: JSON Lines from the
 * server, or CSV made from it. The whole entry is shown on demand as fields, its input as
 * the card shows it. Every server string goes through `Visible`, with the warning on an
 * entry that holds hidden characters (docs/ui.md); a device name in the filter's options,
 * which cannot hold markup, is its escaped text.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import {
  AUDIT_HOWS,
  type AuditEntry,
  type AuditListEntry,
  auditEntry,
  auditEntryAnswer,
  auditPage,
  cancelledText,
  type DecidedBy,
  deciderParts,
  deviceList,
  OUTCOME_LABELS,
  outcomeLabelOf,
  parseDecidedBy,
  parseJsonText,
  parseWith,
  visibleText,
} from '../../protocol/index.ts';
import { ApiError, api, appHeaders, errorText } from '../state/api.ts';
import { AgentBadge } from './AgentBadge.tsx';
import { downloadText, isoTime, toCsv } from '../state/exportFile.ts';
import { InputView } from './InputView.tsx';
import { HiddenWarning, Visible } from './Visible.tsx';

/** An entry's fields but its input (a list entry may leave the input out). */
type EntryFields = Omit<AuditEntry, 'input'>;

type Filters = { outcome: string; how: string; toolName: string; agent: string; deviceId: string };
const NO_FILTERS: Filters = { outcome: '', how: '', toolName: '', agent: '', deviceId: '' };

/** The outcome filter, as the server's `status` and `decision` parameters. */
const OUTCOME_FILTERS: Record<string, { label: string; params: Record<string, string> }> = {
  allowed: { label: OUTCOME_LABELS.allowed, params: { status: 'resolved', decision: 'allow' } },
  denied: { label: OUTCOME_LABELS.denied, params: { status: 'resolved', decision: 'deny' } },
  timedOut: { label: OUTCOME_LABELS.timedOut, params: { status: 'timedOut' } },
  cancelled: { label: OUTCOME_LABELS.cancelled, params: { status: 'cancelled' } },
  pending: { label: 'Pending', params: { status: 'pending' } },
};

function queryOf(filters: Filters, extra: Record<string, string | null>): string {
  const params = new URLSearchParams();
  const { outcome, ...rest } = filters;
  for (const [key, value] of Object.entries({ ...rest, ...(OUTCOME_FILTERS[outcome]?.params ?? {}), ...extra })) if (value) params.set(key, value);
  const text = params.toString();
  return text ? `?${text}` : '';
}

/** The export with these filters, every entry whole, oldest first. A fetch, not a link: the
 *  server wants the app's header on a call that only the session cookie authenticates. */
async function fetchExport(filters: Filters): Promise<string> {
  const response = await fetch(`/api/audit${queryOf(filters, { format: 'jsonl' })}`, { credentials: 'same-origin', headers: appHeaders() });
  if (!response.ok) throw new ApiError(`export failed: HTTP ${response.status}`, response.status);
  return response.text();
}

/** The JSON Lines export's entries, each parsed with the protocol's schema. */
function entriesOfJsonl(text: string): AuditEntry[] {
  const entries: AuditEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const json = parseJsonText(line);
    const parsed = json.ok ? parseWith(auditEntry, json.value) : json;
    if (!parsed.ok) throw new Error(`unexpected line in the audit export: ${parsed.error}`);
    entries.push(parsed.value);
  }
  return entries;
}

/** Who decided, typed: the device when a device did (its cookie authenticated the decision),
 *  else the server's `decidedBy`; none while unresolved. */
function deciderOf(e: EntryFields): DecidedBy | undefined {
  if (e.deviceName !== undefined) return { kind: 'device', name: e.deviceName };
  return e.decidedBy === undefined ? undefined : parseDecidedBy(e.decidedBy);
}

function whoText(e: EntryFields): string {
  const by = deciderOf(e);
  if (!by) return '';
  const parts = deciderParts(by);
  return parts.detail === undefined ? parts.kind : `${parts.kind} ${parts.detail}`;
}

/** The path of the decision and the address it came from. */
function pathText(e: EntryFields): string {
  return [e.via ? `via ${e.via}` : '', e.address ? `from ${e.address}` : ''].filter(Boolean).join(' ');
}

/** How it ended, in words: the outcome, and whether a human or a rule decided it. */
function howText(e: EntryFields): string {
  if (e.status === undefined) return 'Pending';
  const label = OUTCOME_LABELS[outcomeLabelOf(e.status, e.decision)];
  if (e.how === 'human') return `${label} by a human`;
  if (e.how === 'rule') return `${label} by a rule`;
  return label;
}

/** The note: a human's or rule's message; for a cancel, its reason in words (the audit
 *  keeps the reason as the message, server/audit/auditLog.ts). Timeouts need none. */
function noteText(e: EntryFields): string {
  if (e.status === 'cancelled') return cancelledText(e.message);
  if (e.status === 'timedOut') return '';
  return e.message ?? '';
}

function matchesText(e: AuditListEntry, needle: string): boolean {
  if (!needle) return true;
  const haystack = [
    e.toolName,
    e.summary,
    howText(e),
    whoText(e),
    pathText(e),
    noteText(e),
    e.agent ?? '',
    e.sessionId ?? '',
    e.cwd ?? '',
    e.ruleId ?? '',
    e.requestId,
  ];
  return haystack.some((text) => text.toLowerCase().includes(needle));
}

function exportCsv(entries: readonly AuditEntry[]): void {
  const header = [
    'requestId',
    'requestedAt',
    'decidedAt',
    'status',
    'decision',
    'how',
    'who',
    'decidedBy',
    'via',
    'address',
    'deviceName',
    'ruleId',
    'toolName',
    'input',
    'message',
    'agent',
    'sessionId',
    'cwd',
    'agentChoice',
  ];
  const rows = entries.map((e) => [
    e.requestId,
    isoTime(e.requestedAt),
    isoTime(e.decidedAt),
    e.status,
    e.decision,
    e.how,
    whoText(e),
    e.decidedBy,
    e.via,
    e.address,
    e.deviceName,
    e.ruleId,
    e.toolName,
    JSON.stringify(e.input),
    e.message,
    e.agent,
    e.sessionId,
    e.cwd,
    e.agentChoice ? `${e.agentChoice.label} (${e.agentChoice.kind})` : undefined,
  ]);
  downloadText('gatehouse-audit.csv', 'text/csv', toCsv(header, rows));
}

/** One field of the whole entry, when it has a value. */
function Field({ name, value, mono = false }: { name: string; value: string | undefined; mono?: boolean }) {
  if (value === undefined || value === '') return null;
  return (
    <div>
      <dt>{name}</dt>
      <dd className={mono ? 'mono code' : undefined}>
        <Visible text={value} />
      </dd>
    </div>
  );
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
    <details onToggle={(e) => setOpen(e.currentTarget.open)}>
      <summary>Details</summary>
      {error && <p className="phase error">{error}</p>}
      {whole && (
        <div data-testid="audit-whole">
          <HiddenWarning value={whole} />
          <dl className="context">
            <Field name="Request" value={whole.requestId} mono />
            <Field name="Requested" value={new Date(whole.requestedAt).toLocaleString()} />
            <Field name="Decided" value={whole.decidedAt === undefined ? undefined : new Date(whole.decidedAt).toLocaleString()} />
            <Field name="Outcome" value={howText(whole)} />
            <Field name="Who" value={whoText(whole)} />
            <Field name="Decided by" value={whole.decidedBy} mono />
            <Field name="Path" value={pathText(whole)} />
            <Field name="Device" value={whole.deviceName} />
            <Field name="Device id" value={whole.deviceId} mono />
            <Field name="Rule" value={whole.ruleId} mono />
            <Field name="Note" value={noteText(whole)} />
            <Field name="Agent" value={whole.agent} />
            <Field name="Agent's own choice" value={whole.agentChoice ? `${whole.agentChoice.label} (${whole.agentChoice.kind})` : undefined} />
            <Field name="Session" value={whole.sessionId} mono />
            <Field name="Folder" value={whole.cwd} mono />
          </dl>
          <InputView toolName={whole.toolName} input={whole.input} />
        </div>
      )}
    </details>
  );
}

function AuditRow({ entry: e }: { entry: AuditListEntry }) {
  const at = e.decidedAt ?? e.requestedAt;
  const who = whoText(e);
  const path = pathText(e);
  const note = noteText(e);
  return (
    <tr data-testid="audit-entry" data-request-id={e.requestId}>
      <td data-label="When" className="small">
        <time dateTime={new Date(at).toISOString()}>{new Date(at).toLocaleString()}</time>
      </td>
      <td data-label="Outcome">
        <strong data-testid="audit-how">{howText(e)}</strong>
        {e.ruleId && (
          <div className="small mono code">
            rule <Visible text={e.ruleId} />
          </div>
        )}
        {note && (
          <div className="muted small" data-testid="audit-note">
            <Visible text={note} />
          </div>
        )}
      </td>
      <td data-label="What">
        <span className="mono code" data-testid="audit-tool">
          <Visible text={e.toolName} />
        </span>
        <code className="mono code summary" data-testid="audit-input">
          <Visible text={e.summary} />
        </code>
        <HiddenWarning value={{ ...e, inputHidden: undefined }} also={e.inputHidden ?? []} />
      </td>
      <td data-label="Who" data-testid="audit-who">
        {who && <Visible text={who} />}
        {path && (
          <div className="muted small">
            <Visible text={path} />
          </div>
        )}
      </td>
      <td data-label="Agent" className="small">
        <AgentBadge agent={e.agent} {...(e.agentChoice ? { choice: e.agentChoice } : {})} />
      </td>
      <td data-label="Details">
        <EntryDetails requestId={e.requestId} />
      </td>
    </tr>
  );
}

export function AuditView() {
  const [entries, setEntries] = useState<AuditListEntry[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  const [tool, setTool] = useState('');
  const [agent, setAgent] = useState('');
  const [text, setText] = useState('');
  const [devices, setDevices] = useState<Array<{ id: string; name: string }>>([]);
  const [exporting, setExporting] = useState(false);

  // Each load has a number: an answer to an older one (filters changed meanwhile) is dropped,
  // so a slow unfiltered page can never overwrite the filtered one that followed it.
  const latestLoad = useRef(0);
  const load = useCallback(
    (before: string | null) => {
      const mine = ++latestLoad.current;
      api(`/api/audit${queryOf(filters, { before })}`, auditPage)
        .then((r) => {
          if (mine !== latestLoad.current) return;
          setEntries((old) => (before && old ? [...old, ...r.entries] : r.entries));
          setNext(r.next ?? null);
          setError(null);
        })
        .catch((e: unknown) => {
          if (mine === latestLoad.current) setError(errorText(e));
        });
    },
    [filters],
  );
  useEffect(() => load(null), [load]);
  useEffect(() => {
    api('/api/devices', deviceList)
      .then((r) => setDevices(r.devices.map((d) => ({ id: d.id, name: d.name }))))
      .catch(() => setDevices([]));
  }, []);
  const shown = useMemo(() => (entries ?? []).filter((e) => matchesText(e, text.trim().toLowerCase())), [entries, text]);
  const applyTyped = () =>
    setFilters((f) => (f.toolName === tool.trim() && f.agent === agent.trim() ? f : { ...f, toolName: tool.trim(), agent: agent.trim() }));
  const runExport = (format: 'jsonl' | 'csv') => {
    setExporting(true);
    fetchExport(filters)
      .then((jsonl) => (format === 'jsonl' ? downloadText('gatehouse-audit.jsonl', 'application/x-ndjson', jsonl) : exportCsv(entriesOfJsonl(jsonl))))
      .catch((e: unknown) => setError(errorText(e)))
      .finally(() => setExporting(false));
  };

  return (
    <section aria-labelledby="audit-title" className="audit">
      <h2 id="audit-title">Audit log</h2>
      <form
        className="toolbar"
        onSubmit={(e) => {
          e.preventDefault();
          applyTyped();
        }}
      >
        <label>
          Outcome{' '}
          <select value={filters.outcome} onChange={(e) => setFilters((f) => ({ ...f, outcome: e.target.value }))}>
            <option value="">any</option>
            {Object.entries(OUTCOME_FILTERS).map(([value, { label }]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
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
          Tool <input type="search" value={tool} placeholder="e.g. Bash" onChange={(e) => setTool(e.target.value)} onBlur={applyTyped} />
        </label>
        <label>
          Agent <input type="search" value={agent} placeholder="e.g. claude-code" onChange={(e) => setAgent(e.target.value)} onBlur={applyTyped} />
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
        <label>
          Text <input type="search" value={text} placeholder="in the entries loaded" onChange={(e) => setText(e.target.value)} />
        </label>
        {/* A submit button: with more than one text field, Enter submits only through it. */}
        <button type="submit">Apply</button>
        <button type="button" onClick={() => load(null)}>
          Refresh
        </button>
        <button type="button" disabled={exporting} onClick={() => runExport('jsonl')}>
          Export JSON Lines
        </button>
        <button type="button" disabled={exporting} onClick={() => runExport('csv')}>
          Export CSV
        </button>
      </form>
      {error && (
        <p className="phase error" role="alert">
          Audit log unavailable: {error}
        </p>
      )}
      {entries && entries.length === 0 && <p className="empty">No entries.</p>}
      {entries && entries.length > 0 && shown.length === 0 && <p className="empty">No loaded entry matches the text.</p>}
      {shown.length > 0 && (
        <table className="data-table">
          <caption className="sr-only">Audit entries, newest first</caption>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Outcome</th>
              <th scope="col">What</th>
              <th scope="col">Who</th>
              <th scope="col">Agent</th>
              <th scope="col">
                <span className="sr-only">Details</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {shown.map((e) => (
              <AuditRow key={e.requestId} entry={e} />
            ))}
          </tbody>
        </table>
      )}
      {next && (
        <button type="button" onClick={() => load(next)}>
          Load older
        </button>
      )}
    </section>
  );
}
