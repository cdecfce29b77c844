/**
 * The Claude chat agent: one `query()` of the Claude Agent SDK per turn (resuming the
 * SDK session on later turns), with `canUseTool` going through Gatehouse. SDK messages
 * become whole chat messages: text, tool uses, tool results, the end of the turn.
 *
 * Environment: the SDK child gets the server's environment minus GATEHOUSE_* (its token
 * stays here); GATEHOUSE_CLAUDE_MODEL picks the model (optional).
 */
import type { CanUseTool, PermissionResult } from '@anthropic-ai/claude-agent-sdk';
import type { ChatAgent, TurnContext } from './chatAgent.ts';
import { DENY_AND_INTERRUPT } from './hook/claudeHook.ts';
import { toldContextOf } from './hook/told.ts';

type Block = { type: string; text?: string; id?: string; name?: string; input?: unknown; tool_use_id?: string; content?: unknown; is_error?: boolean };

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content))
    return content.map((part) => (part && typeof part === 'object' && typeof (part as Block).text === 'string' ? (part as Block).text : '')).join('');
  return '';
}

function childEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && !key.startsWith('GATEHOUSE_')) env[key] = value;
  return env;
}

export function createClaudeAgent(options: { model?: string } = {}): ChatAgent {
  return {
    name: 'claude',
    async runTurn(ctx: TurnContext) {
      // Loaded on first use: the SDK costs about 0.35 s to import, which every server
      // start would pay even when the demo agent serves.
      const { query } = await import('@anthropic-ai/claude-agent-sdk');
      const requestIds = new Map<string, string>();
      const canUseTool: CanUseTool = async (toolName, input, opts): Promise<PermissionResult> => {
        // What Claude Code told beyond the tool (subagent, reason, MCP server, "a human must look"): hook/told.ts.
        const told = toldContextOf({
          tool_name: toolName,
          ...(opts.agentID ? { agent_id: opts.agentID } : {}),
          ...(opts.decisionReason ? { decision_reason: opts.decisionReason } : {}),
          ...(opts.mcpServer ? { mcp_server: opts.mcpServer } : {}),
          ...(opts.matchedAskRule ? { matchedAskRule: opts.matchedAskRule } : {}),
          ...(opts.defaultToNo ? { defaultToNo: true } : {}),
        });
        const answer = await ctx.ask(toolName, input, {
          toolUseId: opts.toolUseID,
          description: opts.description ?? opts.title ?? opts.decisionReason,
          suggestions: opts.suggestions,
          blockedPath: opts.blockedPath,
          signal: opts.signal,
          context: { ...told, ...(opts.title ? { title: opts.title } : {}), agentChoices: [DENY_AND_INTERRUPT] },
        });
        if (answer.requestId) requestIds.set(opts.toolUseID, answer.requestId);
        if (answer.behavior === 'allow') return { behavior: 'allow', updatedInput: answer.updatedInput };
        // "Deny and stop the turn", when the human chose it on the card.
        return { behavior: 'deny', message: answer.message, ...(answer.agentChoice?.id === DENY_AND_INTERRUPT.id ? { interrupt: true } : {}) };
      };
      const abortController = new AbortController();
      const onAbort = () => abortController.abort();
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      const model = options.model ?? process.env.GATEHOUSE_CLAUDE_MODEL;
      try {
        const messages = query({
          prompt: ctx.prompt,
          options: {
            cwd: ctx.session.cwd,
            permissionMode: 'default',
            settingSources: [],
            env: childEnv(),
            canUseTool,
            abortController,
            ...(model ? { model } : {}),
            ...(ctx.sdkSessionId ? { resume: ctx.sdkSessionId } : {}),
          },
        });
        let ended = false;
        for await (const message of messages) {
          switch (message.type) {
            case 'system':
              if (message.subtype === 'init' && message.session_id) ctx.setSdkSessionId(message.session_id);
              break;
            case 'assistant':
              for (const block of message.message.content as Block[]) {
                if (block.type === 'text' && block.text) await ctx.say({ role: 'assistant', kind: 'text', text: block.text });
                else if (block.type === 'tool_use') {
                  await ctx.say({
                    role: 'assistant',
                    kind: 'tool-use',
                    toolName: block.name,
                    toolUseId: block.id,
                    input: (block.input ?? {}) as Record<string, unknown>,
                  });
                }
              }
              break;
            case 'user': {
              const content = message.message.content;
              if (!Array.isArray(content)) break;
              for (const block of content as Block[]) {
                if (block.type !== 'tool_result') continue;
                const requestId = block.tool_use_id ? requestIds.get(block.tool_use_id) : undefined;
                await ctx.say({
                  role: 'user',
                  kind: 'tool-result',
                  toolUseId: block.tool_use_id,
                  text: textOf(block.content).slice(0, 100_000),
                  isError: block.is_error === true,
                  ...(requestId ? { requestId } : {}),
                });
              }
              break;
            }
            case 'result':
              ended = true;
              await ctx.say({
                role: 'system',
                kind: 'turn-end',
                text: message.subtype === 'success' ? 'The turn ended.' : `The turn ended with an error (${message.subtype}).`,
                isError: message.subtype !== 'success',
              });
              break;
            default:
              break;
          }
        }
        if (!ended) await ctx.say({ role: 'system', kind: 'turn-end', text: 'The turn ended.' });
      } catch (error) {
        await ctx.say({ role: 'system', kind: 'error', text: `Claude stopped: ${(error as Error).message}`.slice(0, 2000), isError: true });
        await ctx.say({ role: 'system', kind: 'turn-end', text: 'The turn ended with an error.', isError: true });
      } finally {
        ctx.signal.removeEventListener('abort', onAbort);
      }
    },
  };
}
