/**
 * One permission request, the same component in the queue and inline in a chat: the
 * tool, its full input, its context, a countdown, and the four decisions. It reads the
 * shared connection actor, so both places always show the same state (optimistic
 * "Allowing…", confirmed, rolled back, finished).
 */
import { useEffect, useRef, useState } from 'react';
import type { CardPhase, HistoryEntry } from '../../machines/queue.ts';
import { describeOutcome, rejectionText } from '../../machines/queue.ts';
import type { PermissionRequestEvent } from '../../protocol/index.ts';
import { hasHiddenCharacters, humanMustLookOf, OUTCOME_LABELS, RULE_SCOPES, visibleJson, visibleText } from '../../protocol/index.ts';
import { allowEdited, allowRequest, alwaysAllowRequest, chosenScope, denyRequest, openEditor } from '../state/cardActions.ts';
import { ConnectionContext } from '../state/connection.ts';
import { setDraft, useDraft } from '../state/drafts.ts';
import { parseEditedInput } from '../state/editInput.ts';
import { useRuleProposal } from '../state/ruleProposals.ts';
import { useNow } from '../state/useNow.ts';
import { AgentBadge } from './AgentBadge.tsx';
import { AgentChoices } from './AgentChoices.tsx';
import { AgentTold, MustLookNotice } from './AgentTold.tsx';
import { InputView } from './InputView.tsx';
import { HiddenWarning, Visible } from './Visible.tsx';

function formatRemaining(ms: number): string {
  const s = Math.ceil(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

function Countdown({ expiresAt }: { expiresAt: number }) {
  const now = useNow(500);
  const left = expiresAt - now;
  return (
    <span className={`countdown${left <= 10_000 ? ' urgent' : ''}`} data-testid="countdown">
      {left > 0 ? `Expires in ${formatRemaining(left)}` : OUTCOME_LABELS.timedOut.toLowerCase()}
    </span>
  );
}

function ContextLine({ context, inputDescription }: { context: PermissionRequestEvent['context']; inputDescription: unknown }) {
  const items: Array<[string, string]> = [];
  if (context.sessionId) items.push(['Session', context.sessionId]);
  if (context.cwd) items.push(['Folder', context.cwd]);
  if (items.length === 0 && !context.description) return null;
  return (
    <>
      {context.description && context.description !== inputDescription && (
        <p className="description">
          <Visible text={context.description} />
        </p>
      )}
      <dl className="context">
        {items.map(([k, v]) => (
          <div key={k}>
            <dt>{k}</dt>
            <dd className="mono code">
              <Visible text={v} />
            </dd>
          </div>
        ))}
      </dl>
    </>
  );
}

const verbing = (d: 'allow' | 'deny') => (d === 'allow' ? 'Allowing…' : 'Denying…');

function PhaseLine({ phase }: { phase: CardPhase }) {
  switch (phase.kind) {
    case 'waiting':
      return null;
    case 'queued':
      return (
        <p className="phase pending" role="status">
          {verbing(phase.decision)} (offline: will be sent on reconnect)
        </p>
      );
    case 'sending':
      return (
        <p className="phase pending" role="status">
          {verbing(phase.decision)}
        </p>
      );
    case 'accepted':
      return (
        <p className="phase ok" role="status">
          {phase.decision === 'allow' ? OUTCOME_LABELS.allowed : OUTCOME_LABELS.denied}: confirmed by the server
        </p>
      );
    case 'rejected':
      return (
        <p className="phase error" role="alert">
          Not applied: {rejectionText(phase.code)}
          {phase.decision ? ` (${phase.decision === 'allow' ? 'allowed' : 'denied'})` : ''}
        </p>
      );
    default: {
      const never: never = phase;
      return never;
    }
  }
}

function Editor({ requestId, input }: { requestId: string; input: Record<string, unknown> }) {
  const actor = ConnectionContext.useActorRef();
  const draft = useDraft(requestId);
  // Hidden characters start as JSON `\uXXXX` escapes: the box shows them and parses to the same input.
  const text = draft.editText ?? visibleJson(input);
  const hidden = hasHiddenCharacters(text);
  const [error, setError] = useState<string | null>(null);
  const ref = useRef<HTMLTextAreaElement>(null);
  useEffect(() => ref.current?.focus(), []);
  const submit = () => {
    const parsed = parseEditedInput(text);
    if (!parsed.ok) {
      setError(parsed.error);
      return;
    }
    allowEdited(actor, requestId, parsed.value);
  };
  return (
    <div className="editor">
      <label htmlFor={`edit-${requestId}`}>Edited input (JSON)</label>
      <textarea
        id={`edit-${requestId}`}
        ref={ref}
        className="mono"
        rows={Math.min(16, text.split('\n').length + 1)}
        value={text}
        spellCheck={false}
        aria-invalid={error !== null}
        aria-describedby={error ? `edit-error-${requestId}` : undefined}
        onChange={(e) => {
          setDraft(requestId, { editText: e.target.value });
          const parsed = parseEditedInput(e.target.value);
          setError(parsed.ok ? null : parsed.error);
        }}
        onKeyDown={(e) => {
          if (e.key === 'Escape') setDraft(requestId, { editing: false, editText: null });
          if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) submit();
        }}
      />
      {hidden && (
        <>
          <HiddenWarning value={text} />
          <pre className="mono code" data-testid="edit-preview" aria-label="Edited input as typed">
            <Visible text={text} />
          </pre>
        </>
      )}
      {error && (
        <p className="phase error" id={`edit-error-${requestId}`} role="alert">
          {error}
        </p>
      )}
      <div className="actions">
        <button type="button" className="primary" onClick={submit} disabled={error !== null}>
          Allow edited input
        </button>
        <button type="button" onClick={() => setDraft(requestId, { editing: false, editText: null })}>
          Cancel edit
        </button>
      </div>
    </div>
  );
}

/** "Always allow": the rule it will make, shown before it is saved (the server's
 *  proposal), a broader prefix only where the server offers one, and the scope. */
function AlwaysAllow({ requestId, busy }: { requestId: string; busy: boolean }) {
  const actor = ConnectionContext.useActorRef();
  const draft = useDraft(requestId);
  const state = useRuleProposal(requestId, !busy);
  const proposal = state.status === 'ready' ? state.proposal : undefined;
  const scope = proposal ? chosenScope(requestId) : undefined;
  const chosen = draft.prefix !== null ? proposal?.prefixes.find((p) => p.pattern === draft.prefix) : undefined;
  const rule = chosen ?? proposal?.exact ?? undefined;
  const noRule =
    state.status === 'error'
      ? `the rule cannot be shown (${state.message})`
      : proposal && !proposal.exact
        ? (proposal.refused ?? 'no rule can be made')
        : proposal && !scope
          ? 'no scope fits this request'
          : undefined;
  return (
    <div className="always-allow" data-testid="always-allow">
      <p className="rule-preview" data-testid="rule-preview" aria-live="polite">
        {state.status === 'loading' && 'Always allow: finding the rule it would remember…'}
        {noRule && <>Always allow makes no rule: {noRule}. Allow still allows this once.</>}
        {rule && !noRule && (
          <>
            Always allow remembers{' '}
            <code className="mono" data-testid="rule-pattern">
              {rule.pattern}
            </code>{' '}
            <span className="muted">({rule.description})</span>
          </>
        )}
      </p>
      <span className="always">
        {proposal && proposal.prefixes.length > 0 && (
          <select
            aria-label="Always allow rule"
            value={chosen?.pattern ?? ''}
            disabled={busy}
            onChange={(e) => setDraft(requestId, { prefix: e.target.value === '' ? null : e.target.value })}
          >
            <option value="">exactly this</option>
            {proposal.prefixes.map((p) => (
              <option key={p.pattern} value={p.pattern}>
                {p.kind === 'path-glob' ? p.pattern : `${p.pattern} …`}
              </option>
            ))}
          </select>
        )}
        <select
          aria-label="Always allow scope"
          value={scope ?? ''}
          disabled={busy || !proposal}
          onChange={(e) => setDraft(requestId, { scope: e.target.value as (typeof RULE_SCOPES)[number] })}
        >
          {!scope && <option value="">scope</option>}
          {RULE_SCOPES.map((s) => {
            const info = proposal?.scopes.find((x) => x.scope === s);
            return (
              <option key={s} value={s} disabled={info ? !info.available : false}>
                {info?.value ? `${s}: ${info.value}` : s}
                {info && !info.available ? ` (${info.reason})` : ''}
              </option>
            );
          })}
        </select>
        <button type="button" disabled={busy || !rule || !!noRule} onClick={() => alwaysAllowRequest(actor, requestId)}>
          Always allow
        </button>
      </span>
    </div>
  );
}

function FinishedCard({ entry }: { entry: HistoryEntry }) {
  const elsewhere = entry.decider === 'another-window' || entry.decider === 'http';
  return (
    <article
      className={`card finished outcome-${entry.outcome}`}
      data-testid="finished-card"
      data-request-id={entry.requestId}
      aria-label={`${visibleText(entry.toolName).text} request, finished`}
    >
      <header>
        <h3>
          <Visible text={entry.toolName} />
        </h3>
        <AgentBadge agent={entry.context.agent} context={entry.context} />
        {elsewhere && <span className="badge">decided elsewhere</span>}
      </header>
      <p className="outcome">
        <Visible text={describeOutcome(entry)} />
      </p>
      {entry.message && entry.outcome !== 'cancelled' && (
        <p className="muted">
          Message: <Visible text={entry.message} />
        </p>
      )}
      {entry.note && (
        <p className="phase error">
          <Visible text={entry.note} />
        </p>
      )}
      <details>
        <summary>Input</summary>
        <InputView toolName={entry.toolName} input={entry.updatedInput ?? entry.input} />
      </details>
    </article>
  );
}

export function RequestCard({ requestId, selected = false, onSelect }: { requestId: string; selected?: boolean; onSelect?: () => void }) {
  const actor = ConnectionContext.useActorRef();
  const card = ConnectionContext.useSelector((s) => s.context.queue.cards[requestId]);
  const finished = ConnectionContext.useSelector((s) =>
    s.context.queue.cards[requestId] ? undefined : s.context.queue.history.find((h) => h.requestId === requestId),
  );
  const draft = useDraft(requestId);
  const now = useNow(1000);
  const ref = useRef<HTMLElement>(null);
  useEffect(() => {
    // Follow the selection with focus, but never steal it from a field being typed in.
    const active = document.activeElement;
    const typing = active instanceof HTMLElement && ['INPUT', 'TEXTAREA', 'SELECT'].includes(active.tagName);
    if (selected && ref.current && !typing && !ref.current.contains(active)) ref.current.focus({ preventScroll: false });
  }, [selected]);

  if (!card) {
    if (finished) return <FinishedCard entry={finished} />;
    return <p className="muted">Permission request {requestId} (not received yet)</p>;
  }
  const { request, phase } = card;
  const expired = request.expiresAt <= now;
  const busy = phase.kind !== 'waiting' || expired;
  const titleId = `card-title-${requestId}`;
  const mustLook = humanMustLookOf(request.context) !== undefined;
  return (
    <article
      ref={ref}
      className={`card${selected ? ' selected' : ''}`}
      data-testid="request-card"
      data-request-id={requestId}
      aria-labelledby={titleId}
      aria-current={selected ? 'true' : undefined}
      tabIndex={-1}
      onFocus={onSelect}
    >
      <header>
        <h3 id={titleId}>
          <Visible text={request.toolName} />
        </h3>
        <AgentBadge agent={request.context.agent} context={request.context} />
        <Countdown expiresAt={request.expiresAt} />
      </header>
      <ContextLine context={request.context} inputDescription={request.toolName === 'Bash' ? request.input.description : undefined} />
      <AgentTold context={request.context} />
      <InputView toolName={request.toolName} input={request.input} />
      <MustLookNotice context={request.context} />
      <PhaseLine phase={phase} />
      {draft.editing && !busy && <Editor requestId={requestId} input={request.input} />}
      <div className="actions">
        <button type="button" className="primary" disabled={busy} onClick={() => allowRequest(actor, requestId)}>
          Allow
        </button>
        <button type="button" className="danger" disabled={busy} onClick={() => denyRequest(actor, requestId)}>
          Deny
        </button>
        <button type="button" disabled={busy || draft.editing} onClick={() => openEditor(requestId)}>
          Edit and allow
        </button>
      </div>
      <AgentChoices requestId={requestId} context={request.context} busy={busy} />
      {/* Where the agent says a human must look, no rule is offered (the server refuses one too). */}
      {!mustLook && <AlwaysAllow requestId={requestId} busy={busy} />}
      <label className="reason">
        <span>Reason (sent with Deny; Enter denies)</span>
        <input
          type="text"
          value={draft.reason}
          disabled={busy}
          maxLength={10_000}
          aria-keyshortcuts="Enter"
          onChange={(e) => setDraft(requestId, { reason: e.target.value })}
          onKeyDown={(e) => {
            // Keyboard flow: type the reason, press Enter to deny with it.
            if (e.key === 'Enter') denyRequest(actor, requestId);
          }}
        />
      </label>
    </article>
  );
}
