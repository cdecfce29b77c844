import { describe, expect, it } from 'vitest';
import type { AskOutcome } from '../client/ask.ts';
import { CODEX_EDIT_REFUSED, codexIdempotencyKeyOf, codexOutputOf, codexRequestSpecOf, parseCodexHookInput, type CodexHookInput } from './codexHook.ts';

// As Codex CLI 0.171 sends it (docs/integrations.md, "Codex").
const INPUT: CodexHookInput = {
  session_id: 'sess-1',
  turn_id: 'turn-1',
  transcript_path: '/x/rollout.jsonl',
  cwd: '/work',
  hook_event_name: 'PermissionRequest',
  model: 'gpt-x',
  permission_mode: 'default',
  tool_name: 'Bash',
  tool_input: { command: 'touch m', description: 'why' },
};
const finished = (extra: Partial<Extract<AskOutcome, { kind: 'finished' }>>): AskOutcome => ({
  kind: 'finished',
  requestId: 'r',
  status: 'resolved',
  decision: 'allow',
  ...extra,
});

describe('Codex hook shape', () => {
  it('CODEX-2: parses Codex PermissionRequest input; refuses other events and non-JSON', () => {
    expect(parseCodexHookInput(JSON.stringify(INPUT)).ok).toBe(true);
    expect(parseCodexHookInput(JSON.stringify({ ...INPUT, hook_event_name: 'PreToolUse' })).ok).toBe(false);
    expect(parseCodexHookInput('{').ok).toBe(false);
    expect(parseCodexHookInput(JSON.stringify({ ...INPUT, tool_input: 'x' })).ok).toBe(false);
  });

  it('CODEX-2: the request: agent codex-hook, session, turn, cwd, description; key codex-pr- from session, turn, tool and canonical input', () => {
    const spec = codexRequestSpecOf(INPUT, 5000);
    expect(spec).toMatchObject({ toolName: 'Bash', input: INPUT.tool_input, timeoutMs: 5000 });
    expect(spec.context).toMatchObject({
      agent: 'codex-hook',
      sessionId: 'sess-1',
      turnId: 'turn-1',
      cwd: '/work',
      description: 'why',
      hookEvent: 'PermissionRequest',
    });
    expect(spec.idempotencyKey).toMatch(/^codex-pr-[0-9a-f]{64}$/);
    // A retry finds the same request; key order does not matter; another turn or command does not.
    expect(codexIdempotencyKeyOf({ ...INPUT, tool_input: { description: 'why', command: 'touch m' } })).toBe(spec.idempotencyKey);
    expect(codexIdempotencyKeyOf({ ...INPUT, turn_id: 'turn-2' })).not.toBe(spec.idempotencyKey);
    expect(codexIdempotencyKeyOf({ ...INPUT, tool_input: { command: 'touch n' } })).not.toBe(spec.idempotencyKey);
  });

  it('CODEX-3: stdout never carries updatedInput or interrupt; an edited allow is a deny saying Codex cannot take edits', () => {
    expect(codexOutputOf(INPUT, finished({}))).toEqual({ hookSpecificOutput: { hookEventName: 'PermissionRequest', decision: { behavior: 'allow' } } });
    expect(codexOutputOf(INPUT, finished({ updatedInput: { description: 'why', command: 'touch m' } }))).toEqual({
      hookSpecificOutput: { hookEventName: 'PermissionRequest', decision: { behavior: 'allow' } },
    });
    const edited = codexOutputOf(INPUT, finished({ updatedInput: { command: 'rm -rf /' } }));
    expect(edited).toEqual({ hookSpecificOutput: { hookEventName: 'PermissionRequest', decision: { behavior: 'deny', message: CODEX_EDIT_REFUSED } } });
    expect(JSON.stringify(edited)).not.toMatch(/updatedInput|interrupt/);
    const denied = codexOutputOf(INPUT, finished({ decision: 'deny', message: 'no' }));
    expect(denied).toEqual({ hookSpecificOutput: { hookEventName: 'PermissionRequest', decision: { behavior: 'deny', message: 'no' } } });
    expect(JSON.stringify(denied)).not.toMatch(/interrupt/);
  });

  it('CODEX-4: timed out is a deny saying so; cancelled, unavailable and gave-up step aside ({})', () => {
    expect(codexOutputOf(INPUT, finished({ status: 'timedOut', decision: 'deny' }))).toMatchObject({
      hookSpecificOutput: { decision: { behavior: 'deny', message: expect.stringMatching(/timed out/i) } },
    });
    expect(codexOutputOf(INPUT, finished({ status: 'cancelled', decision: 'deny' }))).toEqual({});
    expect(codexOutputOf(INPUT, { kind: 'unavailable', down: true, reason: 'down' })).toEqual({});
  });
});
