/**
 * The agent's own choices on a card (protocol/agentChoices.ts; docs/integrations.md,
 * "The agent's own choices"): one button per choice, in the agent's order and with the
 * agent's own wording (visible-safe), each sending exactly that choice back. An "always"
 * choice says what it would allow from now on and that it lives in the agent, outside
 * Gatehouse's rules (never revocable from here). None of them has a key: a click only.
 */
import { agentChoicesOf, isAlwaysKind, type AgentChoice } from '../../protocol/index.ts';
import { chooseAgentOption } from '../state/cardActions.ts';
import { ConnectionContext } from '../state/connection.ts';
import { agentLook } from './AgentBadge.tsx';
import { Visible } from './Visible.tsx';

function kindText(choice: AgentChoice): string {
  switch (choice.kind) {
    case 'allow_once':
      return 'allows this once';
    case 'allow_always':
      return 'allows this and stops the agent asking';
    case 'reject_once':
      return choice.stopsTurn ? 'denies and stops the turn' : 'denies this once';
    case 'reject_always':
      return 'denies this and makes the agent deny it from now on';
    default: {
      const never: never = choice.kind;
      return never;
    }
  }
}

export function AgentChoices({ requestId, context, busy }: { requestId: string; context: Record<string, unknown>; busy: boolean }) {
  const actor = ConnectionContext.useActorRef();
  const choices = agentChoicesOf(context);
  if (choices.length === 0) return null;
  const agent = agentLook(context.agent).name;
  return (
    <fieldset className="agent-choices" data-testid="agent-choices" aria-label={`${agent}'s own choices`}>
      <p className="small muted">
        {agent}&apos;s own choices (sent to the agent exactly as it offered them; an &quot;always&quot; one is kept by the agent, not as a Gatehouse rule, and
        cannot be revoked here):
      </p>
      <ul>
        {choices.map((choice) => (
          <li key={choice.id} className={`agent-choice kind-${choice.kind}`}>
            <button
              type="button"
              className={choice.kind.startsWith('allow') ? (isAlwaysKind(choice.kind) ? 'always-choice' : '') : 'danger'}
              disabled={busy}
              data-testid="agent-choice"
              data-choice-id={choice.id}
              data-choice-kind={choice.kind}
              onClick={() => chooseAgentOption(actor, requestId, choice)}
            >
              <Visible text={choice.label} />
            </button>{' '}
            <span className="small muted">{kindText(choice)}</span>
            {choice.scope && (
              <span className="small choice-scope" data-testid="agent-choice-scope">
                {' '}
                · <Visible text={choice.scope} />
              </span>
            )}
          </li>
        ))}
      </ul>
    </fieldset>
  );
}
