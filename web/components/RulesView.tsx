/**
 * Remembered rules ("Always allow"): list and revoke. The rule's shape belongs to the
 * server, so known fields are shown by name and the rest as JSON; every field through
 * `Visible`, so a pattern with hidden characters shows them, with the warning.
 */
import { useCallback, useEffect, useState } from 'react';
import { z } from 'zod';
import { visibleText } from '../../protocol/index.ts';
import { api, errorText } from '../state/api.ts';
import { HiddenWarning, Visible } from './Visible.tsx';

const rule = z.looseObject({
  id: z.string(),
  toolName: z.string().optional(),
  scope: z.string().optional(),
  pattern: z.string().optional(),
  kind: z.string().optional(),
  decision: z.string().optional(),
  scopeValue: z.string().optional(),
  createdAt: z.number().optional(),
});
type Rule = z.infer<typeof rule>;
const rulesAnswer = z.union([z.object({ rules: z.array(rule) }), z.array(rule).transform((rules) => ({ rules }))]);

function ruleDetails(r: Rule): string {
  const { id: _id, toolName: _t, scope: _s, createdAt: _c, pattern, kind, decision, scopeValue: _v, ...rest } = r;
  const head = [decision, kind && pattern !== undefined ? `${kind}: ${pattern}` : pattern].filter(Boolean).join(' · ');
  return [head, Object.keys(rest).length ? JSON.stringify(rest) : ''].filter(Boolean).join(' ');
}

export function RulesView() {
  const [rules, setRules] = useState<Rule[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [status, setStatus] = useState<string>('');
  const load = useCallback(() => {
    api('/api/rules', rulesAnswer)
      .then((r) => {
        setRules(r.rules);
        setError(null);
      })
      .catch((e: unknown) => setError(errorText(e)));
  }, []);
  useEffect(load, [load]);

  const revoke = (r: Rule) => {
    api(`/api/rules/${encodeURIComponent(r.id)}`, z.unknown(), { method: 'DELETE' })
      .then(() => {
        setStatus(visibleText(`Rule ${r.id} revoked.`).text);
        load();
      })
      .catch((e: unknown) => setStatus(visibleText(`Could not revoke ${r.id}: ${errorText(e)}`).text));
  };

  return (
    <section aria-labelledby="rules-title" className="rules">
      <h2 id="rules-title">Remembered rules</h2>
      <button type="button" onClick={load}>
        Refresh
      </button>
      <p role="status" className="muted">
        {status}
      </p>
      {error && (
        <p className="phase error" role="alert">
          Rules unavailable: {error}
        </p>
      )}
      {rules && rules.length === 0 && <p className="empty">No remembered rules.</p>}
      {rules && rules.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">Tool</th>
              <th scope="col">Scope</th>
              <th scope="col">Details</th>
              <th scope="col">Created</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rules.map((r) => (
              <tr key={r.id} data-testid="rule-row" data-rule-id={r.id}>
                <td className="mono code">
                  <Visible text={r.toolName ?? '*'} />
                </td>
                <td>
                  <Visible text={r.scope ?? ''} />
                  {r.scopeValue ? (
                    <span className="mono small code">
                      {' '}
                      <Visible text={r.scopeValue} />
                    </span>
                  ) : null}
                </td>
                <td className="mono small code">
                  <Visible text={ruleDetails(r)} />
                  <HiddenWarning value={r} />
                </td>
                <td className="small">{r.createdAt ? new Date(r.createdAt).toLocaleString() : ''}</td>
                <td>
                  <button
                    type="button"
                    aria-label={visibleText(`Revoke rule for ${r.toolName ?? 'any tool'} (${r.scope ?? 'no scope'})`).text}
                    onClick={() => revoke(r)}
                  >
                    Revoke
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
