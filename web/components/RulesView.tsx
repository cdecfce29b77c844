/**
 * Remembered rules ("Always allow"), readable (docs/ui.md, "Rules"): a table of what the
 * rule covers (tool, pattern and how it matches), its decision and scope, who made it and
 * how, and when; newest first, a filter box, revoke after a confirmation, and exports
 * (JSON, CSV) of the rules shown. No hits or "last used" column: the server does not
 * count them. Every server string goes through `Visible`, with the warning on a row that
 * holds hidden characters.
 */
import { useCallback, useEffect, useMemo, useState } from 'react';
import { deciderParts, parseDecidedBy, type RuleKind, type RuleView, revokedAnswer, ruleList, visibleText } from '../../protocol/index.ts';
import { api, errorText } from '../state/api.ts';
import { downloadText, isoTime, toCsv } from '../state/exportFile.ts';
import { HiddenWarning, Visible } from './Visible.tsx';

/** How a rule's pattern matches, in words. */
const KIND_TEXT: Record<RuleKind, string> = {
  'bash-exact': 'exactly this command',
  'bash-prefix': 'commands starting with',
  'path-glob': 'paths matching',
  'exact-input': 'exactly this input',
};

/** An exact-input rule's pattern is the canonical JSON of the input: shown as its fields. */
function patternText(rule: RuleView): string {
  if (rule.kind !== 'exact-input') return rule.pattern;
  try {
    const value: unknown = JSON.parse(rule.pattern);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      return Object.entries(value)
        .map(([key, field]) => `${key}: ${typeof field === 'string' ? field : JSON.stringify(field)}`)
        .join('\n');
    }
  } catch {
    // not JSON: shown as it is
  }
  return rule.pattern;
}

function scopeText(rule: RuleView): string {
  switch (rule.scope) {
    case 'global':
      return 'everywhere';
    case 'project':
      return 'in the project';
    case 'session':
      return 'in the session';
    default: {
      const never: never = rule.scope;
      return never;
    }
  }
}

function creatorText(rule: RuleView): string {
  const who = deciderParts(parseDecidedBy(rule.createdBy));
  return who.detail === undefined ? who.kind : `${who.kind} ${who.detail}`;
}

/** How it was made: "Always allow" on a card (the request that made it), or the API. */
function howMadeText(rule: RuleView): string {
  const verb = rule.decision === 'allow' ? 'Always allow' : 'Always deny';
  return rule.sourceRequestId !== undefined ? `${verb} on request ${rule.sourceRequestId}` : 'added with POST /api/rules';
}

function matches(rule: RuleView, needle: string): boolean {
  if (!needle) return true;
  const haystack = [
    rule.toolName,
    rule.pattern,
    patternText(rule),
    KIND_TEXT[rule.kind],
    rule.decision,
    rule.scope,
    scopeText(rule),
    rule.scopeValue ?? '',
    creatorText(rule),
    howMadeText(rule),
    rule.id,
  ];
  return haystack.some((text) => text.toLowerCase().includes(needle));
}

function exportRules(rules: readonly RuleView[], format: 'json' | 'csv'): void {
  if (format === 'json') {
    downloadText('gatehouse-rules.json', 'application/json', `${JSON.stringify({ rules }, null, 2)}\n`);
    return;
  }
  const header = ['id', 'toolName', 'kind', 'pattern', 'decision', 'scope', 'scopeValue', 'createdBy', 'createdAt', 'sourceRequestId'];
  const rows = rules.map((r) => [r.id, r.toolName, r.kind, r.pattern, r.decision, r.scope, r.scopeValue, r.createdBy, isoTime(r.createdAt), r.sourceRequestId]);
  downloadText('gatehouse-rules.csv', 'text/csv', toCsv(header, rows));
}

function RuleRow({ rule, onRevoked, onStatus }: { rule: RuleView; onRevoked: () => void; onStatus: (text: string) => void }) {
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const what = visibleText(`${rule.toolName}: ${rule.pattern}`).text;
  const revoke = () => {
    setBusy(true);
    api(`/api/rules/${encodeURIComponent(rule.id)}`, revokedAnswer, { method: 'DELETE' })
      .then(() => {
        onStatus(visibleText(`Rule ${rule.id} revoked.`).text);
        onRevoked();
      })
      .catch((e: unknown) => onStatus(visibleText(`Could not revoke ${rule.id}: ${errorText(e)}`).text))
      .finally(() => {
        setBusy(false);
        setConfirming(false);
      });
  };
  return (
    <tr data-testid="rule-row" data-rule-id={rule.id}>
      <td data-label="What">
        <span className="mono code" data-testid="rule-tool">
          <Visible text={rule.toolName} />
        </span>{' '}
        <span className="muted small">{KIND_TEXT[rule.kind]}</span>
        <pre className="mono code pattern" data-testid="rule-pattern">
          <Visible text={patternText(rule)} />
        </pre>
        <HiddenWarning value={rule} />
      </td>
      <td data-label="Decision" data-testid="rule-decision">
        {rule.decision === 'allow' ? 'Allow' : 'Deny'}
      </td>
      <td data-label="Scope" data-testid="rule-scope">
        {scopeText(rule)}
        {rule.scopeValue !== undefined && (
          <span className="mono small code">
            {' '}
            <Visible text={rule.scopeValue} />
          </span>
        )}
      </td>
      <td data-label="Created by" data-testid="rule-who">
        <Visible text={creatorText(rule)} />
        <div className="muted small">
          <Visible text={howMadeText(rule)} />
        </div>
      </td>
      <td data-label="When" className="small">
        <time dateTime={new Date(rule.createdAt).toISOString()}>{new Date(rule.createdAt).toLocaleString()}</time>
      </td>
      <td data-label="Actions">
        {confirming ? (
          <span className="confirm">
            <span className="small">Revoke? Requests it covers will ask a human again.</span>{' '}
            <button type="button" className="danger" disabled={busy} aria-label={`Yes, revoke rule ${what}`} onClick={revoke}>
              Yes, revoke
            </button>{' '}
            <button type="button" disabled={busy} aria-label={`Keep rule ${what}`} onClick={() => setConfirming(false)}>
              Keep
            </button>
          </span>
        ) : (
          <button type="button" aria-label={`Revoke rule ${what} (${rule.scope})`} onClick={() => setConfirming(true)}>
            Revoke
          </button>
        )}
      </td>
    </tr>
  );
}

export function RulesView() {
  const [rules, setRules] = useState<RuleView[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [status, setStatus] = useState<string>('');
  const [filter, setFilter] = useState('');
  const load = useCallback(() => {
    api('/api/rules', ruleList)
      .then((r) => {
        setRules([...r.rules].sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1)));
        setError(null);
      })
      .catch((e: unknown) => setError(errorText(e)));
  }, []);
  useEffect(load, [load]);
  const shown = useMemo(() => (rules ?? []).filter((r) => matches(r, filter.trim().toLowerCase())), [rules, filter]);

  return (
    <section aria-labelledby="rules-title" className="rules">
      <h2 id="rules-title">Remembered rules</h2>
      <div className="toolbar">
        <label>
          Filter <input type="search" value={filter} placeholder="tool, command, path, scope…" onChange={(e) => setFilter(e.target.value)} />
        </label>
        <button type="button" onClick={load}>
          Refresh
        </button>
        <button type="button" disabled={shown.length === 0} onClick={() => exportRules(shown, 'json')}>
          Export JSON
        </button>
        <button type="button" disabled={shown.length === 0} onClick={() => exportRules(shown, 'csv')}>
          Export CSV
        </button>
      </div>
      <p role="status" className="muted">
        {status}
      </p>
      {error && (
        <p className="phase error" role="alert">
          Rules unavailable: {error}
        </p>
      )}
      {rules && rules.length === 0 && <p className="empty">No remembered rules.</p>}
      {rules && rules.length > 0 && shown.length === 0 && <p className="empty">No rule matches the filter.</p>}
      {shown.length > 0 && (
        <table className="data-table">
          <caption className="sr-only">Remembered rules, newest first</caption>
          <thead>
            <tr>
              <th scope="col">What</th>
              <th scope="col">Decision</th>
              <th scope="col">Scope</th>
              <th scope="col">Created by</th>
              <th scope="col">When</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {shown.map((r) => (
              <RuleRow key={r.id} rule={r} onRevoked={load} onStatus={setStatus} />
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
