/**
 * What the agent told beyond the tool and its input (docs/integrations.md, "What the
 * agent told"): its own title of the ask, why it asks (`decisionReason`), the MCP server
 * and where it is configured, and, when the agent says a human must look
 * (`context.humanMustLook`), the notice that explains why this card has no one-key allow
 * and no "Always allow" rule. All of it untrusted text, shown visible-safe.
 */
import { humanMustLookOf } from '../../protocol/index.ts';
import { Visible } from './Visible.tsx';

const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

export function AgentTold({ context }: { context: Record<string, unknown> }) {
  const rows: Array<[string, string]> = [];
  const title = text(context.title);
  const reason = text(context.decisionReason);
  const server = text(context.mcpServer);
  const source = text(context.mcpSource);
  if (title) rows.push(['Agent says', title]);
  if (reason) rows.push(['Why it asks', reason]);
  if (server) rows.push(['MCP server', source ? `${server} (from ${source})` : server]);
  if (rows.length === 0) return null;
  return (
    <dl className="context agent-told" data-testid="agent-told">
      {rows.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd className="mono code">
            <Visible text={v} />
          </dd>
        </div>
      ))}
    </dl>
  );
}

/** Why this card needs an explicit click, when the agent said a human must look. */
export function MustLookNotice({ context }: { context: Record<string, unknown> }) {
  const why = humanMustLookOf(context);
  if (!why) return null;
  return (
    <p className="phase must-look" role="note" data-testid="must-look">
      The agent says a human must look at this one (<Visible text={why} />
      ): click Allow to allow it. No key allows it and no &quot;Always allow&quot; rule is offered.
    </p>
  );
}
