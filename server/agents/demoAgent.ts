/**
 * The demo agent: a scripted stand-in for an AI, so that a fresh install without Claude
 * still gives a chat that works. It says it is a demo, then proposes four real tool
 * calls in a scratch workspace under the data directory (list it, write a file, edit it,
 * run a harmless command), each through the same permission path as Claude's
 * `canUseTool`, runs each for real (file system, child process) only when allowed, with
 * the human's edited input, and reports denials and timeouts like a real agent.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve, isAbsolute } from 'node:path';
import { OUTCOME_LABELS } from '../../protocol/index.ts';
import type { ChatAgent, TurnContext } from './chatAgent.ts';

type ToolCall = { toolName: 'Bash' | 'Write' | 'Edit'; input: Record<string, unknown>; description: string };

function proposals(workspace: string, turn: string): ToolCall[] {
  const file = join(workspace, `notes-${turn}.txt`);
  return [
    { toolName: 'Bash', input: { command: 'ls -la', description: 'List the scratch workspace' }, description: 'List the scratch workspace' },
    { toolName: 'Write', input: { file_path: file, content: 'Hello from the Gatehouse demo agent.\n' }, description: `Write ${file}` },
    { toolName: 'Edit', input: { file_path: file, old_string: 'Hello', new_string: 'Hello again' }, description: `Edit ${file}` },
    {
      toolName: 'Bash',
      input: { command: 'echo "the demo agent ran a harmless command" && date -u +%Y-%m-%d', description: 'Run a harmless command' },
      description: 'Run a harmless command',
    },
  ];
}

function runShell(command: string, cwd: string, signal: AbortSignal): Promise<{ ok: boolean; text: string }> {
  return new Promise((done) => {
    execFile('/bin/sh', ['-c', command], { cwd, timeout: 10_000, maxBuffer: 256 << 10, signal }, (error, stdout, stderr) => {
      const text = `${stdout}${stderr}`.trim();
      done(
        error
          ? { ok: false, text: `${text}\n(exit: ${(error as NodeJS.ErrnoException).code ?? error.message})`.trim() }
          : { ok: true, text: text || '(no output)' },
      );
    });
  });
}

/** Files stay inside the workspace, whatever the (possibly edited) input says. */
function insideWorkspace(workspace: string, path: unknown): string | undefined {
  if (typeof path !== 'string' || !path) return undefined;
  const full = isAbsolute(path) ? resolve(path) : resolve(workspace, path);
  const rel = relative(workspace, full);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? full : undefined;
}

async function execute(call: ToolCall, input: Record<string, unknown>, workspace: string, signal: AbortSignal): Promise<{ ok: boolean; text: string }> {
  switch (call.toolName) {
    case 'Bash':
      return typeof input.command === 'string' ? runShell(input.command, workspace, signal) : { ok: false, text: 'command: must be a string' };
    case 'Write': {
      const path = insideWorkspace(workspace, input.file_path);
      if (!path || typeof input.content !== 'string') return { ok: false, text: 'The demo agent only writes text files inside its workspace.' };
      writeFileSync(path, input.content);
      return { ok: true, text: `Wrote ${input.content.length} characters to ${path}` };
    }
    case 'Edit': {
      const path = insideWorkspace(workspace, input.file_path);
      if (!path || typeof input.old_string !== 'string' || typeof input.new_string !== 'string')
        return { ok: false, text: 'The demo agent only edits files inside its workspace.' };
      let text: string;
      try {
        text = readFileSync(path, 'utf8');
      } catch {
        return { ok: false, text: `${path} does not exist (was the write denied?)` };
      }
      if (!text.includes(input.old_string)) return { ok: false, text: `"${input.old_string}" is not in ${path}` };
      writeFileSync(path, text.replace(input.old_string, input.new_string));
      return { ok: true, text: `Edited ${path}` };
    }
    default: {
      const never: never = call.toolName;
      return never;
    }
  }
}

export function createDemoAgent(options: { workspaceRoot: string }): ChatAgent {
  return {
    name: 'demo',
    async runTurn(ctx: TurnContext) {
      const workspace = join(options.workspaceRoot, ctx.session.id);
      mkdirSync(workspace, { recursive: true });
      await ctx.say({
        role: 'assistant',
        kind: 'text',
        text: `This is the Gatehouse demo agent, not a real AI: it does not read your prompt ("${ctx.prompt.slice(0, 200)}"). It will propose four tool calls in its scratch workspace ${workspace}, and runs each only if you allow it.`,
      });
      const turn = randomUUID().slice(0, 8);
      const results: string[] = [];
      for (const call of proposals(workspace, turn)) {
        if (ctx.signal.aborted) break;
        const toolUseId = `demo_${randomUUID()}`;
        await ctx.say({ role: 'assistant', kind: 'tool-use', toolName: call.toolName, toolUseId, input: call.input });
        const answer = await ctx.ask(call.toolName, call.input, { toolUseId, description: call.description, signal: ctx.signal });
        const requestId = answer.requestId;
        if (answer.behavior === 'deny') {
          const how = answer.outcome === 'failed' ? 'could not be asked' : OUTCOME_LABELS[answer.outcome].toLowerCase();
          results.push(`${call.description}: ${how}`);
          await ctx.say({ role: 'user', kind: 'tool-result', toolUseId, text: answer.message, isError: true, ...(requestId ? { requestId } : {}) });
          continue;
        }
        const outcome = await execute(call, answer.updatedInput, workspace, ctx.signal);
        results.push(`${call.description}: ${outcome.ok ? 'done' : 'failed'}`);
        await ctx.say({ role: 'user', kind: 'tool-result', toolUseId, text: outcome.text, isError: !outcome.ok, ...(requestId ? { requestId } : {}) });
      }
      await ctx.say({ role: 'assistant', kind: 'text', text: `Demo summary:\n- ${results.join('\n- ')}` });
      await ctx.say({ role: 'system', kind: 'turn-end', text: 'The turn ended.' });
    },
  };
}
