/**
 * The MCP permission prompt tool (`--permission-prompt-tool mcp__gatehouse__approve`):
 * Claude Code calls it with `{tool_name, input, tool_use_id}` and reads back one text
 * block holding `{"behavior":"allow","updatedInput":{…}}` or
 * `{"behavior":"deny","message":"…"}` (claude-code-offline.md, surface 3). Anything
 * unexpected (server down, refused, timed out, cancelled) becomes a deny that says why.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { outcomeMessageForAgent } from '../../../protocol/outcome.ts';
import { askGatehouse, type AskOptions, type AskOutcome, type AskSpec } from '../client/ask.ts';

export const MCP_AGENT = 'claude-code-mcp';
export const MCP_SERVER_NAME = 'gatehouse';
export const MCP_TOOL_NAME = 'approve';

/** Declared as a zod shape: undeclared arguments (`tool_use_id`!) would be dropped. */
export const approveInputShape = {
  tool_name: z.string().min(1).max(200).describe('The tool Claude Code wants to run'),
  input: z.record(z.string(), z.unknown()).describe("The tool's input"),
  tool_use_id: z.string().max(200).optional().describe('The tool use id'),
};
export type ApproveArgs = { tool_name: string; input: Record<string, unknown>; tool_use_id?: string | undefined };

export type ApproveAnswer = { behavior: 'allow'; updatedInput: Record<string, unknown> } | { behavior: 'deny'; message: string };

export function answerOf(args: ApproveArgs, outcome: AskOutcome): ApproveAnswer {
  switch (outcome.kind) {
    case 'unavailable':
      return { behavior: 'deny', message: `Gatehouse could not get a decision, so this is denied: ${outcome.reason}.` };
    case 'gave-up':
      return { behavior: 'deny', message: `Gatehouse stopped waiting for a decision, so this is denied: ${outcome.reason}.` };
    case 'finished':
      if (outcome.status === 'resolved' && outcome.decision === 'allow') return { behavior: 'allow', updatedInput: outcome.updatedInput ?? args.input };
      // A deny, a timeout or a cancel: the words every agent is told (protocol/outcome.ts).
      return { behavior: 'deny', message: outcomeMessageForAgent({ ...outcome, decision: 'deny' }) };
    default: {
      const never: never = outcome;
      return never;
    }
  }
}

export type ApproveDeps = Omit<AskOptions, 'signal'> & { timeoutMs?: number | undefined; cwd: string };

export async function approve(args: ApproveArgs, deps: ApproveDeps, signal?: AbortSignal): Promise<ApproveAnswer> {
  try {
    const context: Record<string, unknown> = { agent: MCP_AGENT, cwd: deps.cwd };
    if (args.tool_use_id) context.toolUseId = args.tool_use_id;
    if (typeof args.input.description === 'string') context.description = args.input.description.slice(0, 10_000);
    const spec: AskSpec = {
      toolName: args.tool_name,
      input: args.input,
      context,
      idempotencyKey: args.tool_use_id || `mcp-${randomUUID()}`,
      timeoutMs: deps.timeoutMs,
    };
    const outcome = await askGatehouse(spec, { ...deps, signal });
    return answerOf(args, outcome);
  } catch (error) {
    return { behavior: 'deny', message: `Gatehouse failed unexpectedly, so this is denied: ${(error as Error).message}` };
  }
}
