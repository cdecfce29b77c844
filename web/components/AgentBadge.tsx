/**
 * Which agent asked (docs/ui.md, "Which agent asked"): the request's `context.agent`
 * (contract-2 names: `claude-code-hook`, `claude`, `codex`, `codex-hook`, `opencode`,
 * `acp:<command>`, …) as a short name with a monogram, the exact value in the title, and
 * the asking subagent when the agent names one. A request with no agent came over the
 * plain HTTP API. The same component on the card, in History and in the Audit view.
 */
import { Visible } from './Visible.tsx';

export type AgentLook = { name: string; mark: string; family: string };

/** The display name, monogram and family (for the colour) of a `context.agent` value. */
export function agentLook(agent: unknown): AgentLook {
  if (typeof agent !== 'string' || agent === '') return { name: 'HTTP', mark: 'H', family: 'http' };
  switch (agent) {
    case 'claude':
    case 'claude-code-hook':
    case 'claude-code-mcp':
    case 'claude-code':
      return { name: 'Claude Code', mark: 'C', family: 'claude' };
    case 'codex':
    case 'codex-hook':
      return { name: 'Codex', mark: 'X', family: 'codex' };
    case 'opencode':
      return { name: 'opencode', mark: 'O', family: 'opencode' };
    case 'demo':
      return { name: 'Demo agent', mark: 'D', family: 'demo' };
    default:
      break;
  }
  if (agent.startsWith('acp:')) {
    const command = agent.slice(4);
    if (command === 'gemini') return { name: 'Gemini', mark: 'G', family: 'gemini' };
    if (command === 'claude-agent-acp') return { name: 'Claude Code (ACP)', mark: 'C', family: 'claude' };
    return { name: `ACP:${command}`, mark: 'A', family: 'acp' };
  }
  return { name: agent, mark: '?', family: 'other' };
}

/** The asking subagent (Claude Code's `agent_type` / `agent_id`), when named. */
function subagentOf(context: Record<string, unknown> | undefined): string | undefined {
  const type = typeof context?.agentType === 'string' ? context.agentType : undefined;
  const id = typeof context?.agentId === 'string' ? context.agentId : undefined;
  if (!type && !id) return undefined;
  return [type, id ? `(${id})` : undefined].filter(Boolean).join(' ');
}

/** `choice`: the agent's own choice the decision sent (the Audit view shows it beside the agent). */
export function AgentBadge({ agent, context, choice }: { agent: unknown; context?: Record<string, unknown>; choice?: { label: string; kind: string } }) {
  const look = agentLook(agent);
  const subagent = subagentOf(context);
  const exact = typeof agent === 'string' && agent !== '' ? agent : 'no agent named (the HTTP API)';
  return (
    <span className={`agent-badge agent-${look.family}`} data-testid="agent-badge" title={exact}>
      <span className="agent-mark" aria-hidden="true">
        {look.mark}
      </span>
      <span className="agent-name">
        <Visible text={look.name} />
      </span>
      {subagent && (
        <span className="agent-sub" data-testid="agent-subagent">
          {' '}
          · subagent <Visible text={subagent} />
        </span>
      )}
      {choice && (
        <span className="agent-sub" data-testid="agent-choice-sent">
          {' '}
          · its own choice: <Visible text={choice.label} /> ({choice.kind})
        </span>
      )}
    </span>
  );
}
