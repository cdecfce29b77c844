/**
 * What Claude Code tells beyond the tool (AGX-8) and the card's "Deny and stop the turn"
 * (AGX-9), as the hook maps them: context in, hook output out.
 */
import { describe, expect, it } from 'vitest';
import { humanMustLookOf } from '../../../protocol/index.ts';
import { DENY_AND_INTERRUPT, outputOf, parseHookValue, requestSpecOf } from './claudeHook.ts';
import { toldContextOf } from './told.ts';

const base = {
  hook_event_name: 'PermissionRequest',
  session_id: 's1',
  cwd: '/tmp/p',
  tool_name: 'mcp__files__write',
  tool_input: { path: '/tmp/p/x' },
};

describe('what the agent told', () => {
  it('AGX-8: the subagent, the decision reason and the MCP server with its source are kept in the context', () => {
    const parsed = parseHookValue({
      ...base,
      agent_id: 'agent-7',
      agent_type: 'code-reviewer',
      decision_reason: 'writes outside the project',
      mcp_server: { name: 'files', source: 'project' },
    });
    if (!parsed.ok) throw new Error(parsed.error);
    const context = requestSpecOf(parsed.value, 10_000).context;
    expect(context).toMatchObject({
      agentId: 'agent-7',
      agentType: 'code-reviewer',
      decisionReason: 'writes outside the project',
      mcpServer: 'files',
      mcpSource: 'project',
    });
    expect(humanMustLookOf(context)).toBeUndefined();
    // Without provenance the server is read from the tool name; nothing else is guessed.
    expect(toldContextOf({ tool_name: 'mcp__db__query' })).toEqual({ mcpServer: 'db' });
    expect(toldContextOf({ tool_name: 'Bash', agent_id: 42, decision_reason: '' })).toEqual({});
  });

  it('AGX-8: matchedAskRule, requires_user_interaction and defaultToNo say a human must look (and why); false or absent do not', () => {
    expect(humanMustLookOf(toldContextOf({ matchedAskRule: { source: 'userSettings', toolName: 'Bash', ruleContent: 'rm:*' } }))).toContain('ask rule');
    expect(humanMustLookOf(toldContextOf({ matchedAskRule: 'Bash(rm:*)' }))).toContain('Bash(rm:*)');
    expect(humanMustLookOf(toldContextOf({ requires_user_interaction: true }))).toContain('user interaction');
    expect(humanMustLookOf(toldContextOf({ decision_reason: { defaultToNo: true } }))).toContain('no by default');
    expect(humanMustLookOf(toldContextOf({ requires_user_interaction: false, defaultToNo: false, matchedAskRule: null }))).toBeUndefined();
  });
});

describe('deny and stop the turn', () => {
  const finished = (decision: 'allow' | 'deny', agentChoice?: string) =>
    ({ kind: 'finished', requestId: 'r', status: 'resolved', decision, message: 'no', ...(agentChoice ? { agentChoice } : {}) }) as const;

  it('AGX-9: a PermissionRequest offers it; chosen, the deny carries interrupt: true; otherwise never', () => {
    const parsed = parseHookValue(base);
    if (!parsed.ok) throw new Error(parsed.error);
    expect(requestSpecOf(parsed.value, 10_000).context.agentChoices).toEqual([DENY_AND_INTERRUPT]);
    expect(outputOf('PermissionRequest', finished('deny', DENY_AND_INTERRUPT.id))).toEqual({
      hookSpecificOutput: { hookEventName: 'PermissionRequest', decision: { behavior: 'deny', message: 'no', interrupt: true } },
    });
    expect(outputOf('PermissionRequest', finished('deny'))).toEqual({
      hookSpecificOutput: { hookEventName: 'PermissionRequest', decision: { behavior: 'deny', message: 'no' } },
    });
    // A timeout is a deny nobody chose to stop with; PreToolUse has no interrupt.
    expect(JSON.stringify(outputOf('PermissionRequest', { ...finished('deny', DENY_AND_INTERRUPT.id), status: 'timedOut' }))).not.toContain('interrupt');
    expect(JSON.stringify(outputOf('PreToolUse', finished('deny', DENY_AND_INTERRUPT.id)))).not.toContain('interrupt');
    const pre = parseHookValue({ ...base, hook_event_name: 'PreToolUse', tool_use_id: 't1' });
    if (!pre.ok) throw new Error(pre.error);
    expect(requestSpecOf(pre.value, 10_000).context.agentChoices).toBeUndefined();
  });
});
