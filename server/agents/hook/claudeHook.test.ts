import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../../protocol/index.ts';
import { idempotencyKeyOf, outputOf, parseHookInput, requestSpecOf, stepAside } from './claudeHook.ts';

const permissionRequest = {
  session_id: 's1',
  transcript_path: '/tmp/t.jsonl',
  cwd: '/work/p',
  prompt_id: 'p1',
  permission_mode: 'default',
  hook_event_name: 'PermissionRequest',
  tool_name: 'Bash',
  tool_input: { command: 'echo hi > /x/out.txt', description: 'write a file' },
  permission_suggestions: [{ type: 'addDirectories', directories: ['/x'], destination: 'session' }],
};

describe('claude hook mapping', () => {
  it('HOOK-2: PreToolUse uses the tool use id as its idempotency key', () => {
    const parsed = parseHookInput(JSON.stringify({ ...permissionRequest, hook_event_name: 'PreToolUse', tool_use_id: 'toolu_1' }));
    expect(parsed.ok).toBe(true);
    if (parsed.ok) expect(idempotencyKeyOf(parsed.value)).toBe('toolu_1');
  });

  it('HOOK-2: PermissionRequest derives its key from session, prompt, tool name and canonical input', () => {
    const a = parseHookInput(JSON.stringify(permissionRequest));
    const b = parseHookInput(JSON.stringify({ ...permissionRequest, tool_input: { description: 'write a file', command: 'echo hi > /x/out.txt' } }));
    const other = parseHookInput(JSON.stringify({ ...permissionRequest, prompt_id: 'p2' }));
    const otherInput = parseHookInput(JSON.stringify({ ...permissionRequest, tool_input: { command: 'echo ho' } }));
    if (!a.ok || !b.ok || !other.ok || !otherInput.ok) throw new Error('parse failed');
    expect(idempotencyKeyOf(a.value)).toBe(idempotencyKeyOf(b.value));
    expect(idempotencyKeyOf(a.value)).not.toBe(idempotencyKeyOf(other.value));
    expect(idempotencyKeyOf(a.value)).not.toBe(idempotencyKeyOf(otherInput.value));
    expect(idempotencyKeyOf(a.value)).toMatch(/^claude-pr-[0-9a-f]{64}$/);
  });

  it('HOOK-2: canonical JSON sorts keys at every level', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[1,{"y":2,"z":1}]},"b":1}');
  });

  it('HOOK-3: the request carries the hook context', () => {
    const parsed = parseHookInput(JSON.stringify(permissionRequest));
    if (!parsed.ok) throw new Error('parse failed');
    const spec = requestSpecOf(parsed.value, 50_000);
    expect(spec).toMatchObject({
      toolName: 'Bash',
      timeoutMs: 50_000,
      context: {
        sessionId: 's1',
        cwd: '/work/p',
        agent: 'claude-code-hook',
        description: 'write a file',
        suggestions: permissionRequest.permission_suggestions,
      },
    });
  });

  it('HOOK-4: each event gets its own output shape', () => {
    const allow = { kind: 'finished', requestId: 'r', status: 'resolved', decision: 'allow', updatedInput: { command: 'ls' }, decidedBy: 'alice' } as const;
    expect(outputOf('PermissionRequest', allow)).toEqual({
      hookSpecificOutput: { hookEventName: 'PermissionRequest', decision: { behavior: 'allow', updatedInput: { command: 'ls' } } },
    });
    expect(outputOf('PreToolUse', allow)).toMatchObject({
      hookSpecificOutput: { hookEventName: 'PreToolUse', permissionDecision: 'allow', updatedInput: { command: 'ls' } },
    });
    const deny = { kind: 'finished', requestId: 'r', status: 'resolved', decision: 'deny', message: 'no way' } as const;
    expect(outputOf('PermissionRequest', deny)).toEqual({
      hookSpecificOutput: { hookEventName: 'PermissionRequest', decision: { behavior: 'deny', message: 'no way' } },
    });
    expect(outputOf('PreToolUse', deny)).toEqual({
      hookSpecificOutput: { hookEventName: 'PreToolUse', permissionDecision: 'deny', permissionDecisionReason: 'no way' },
    });
  });

  it('HOOK-4: a deny without a reason names who denied; a timeout says it timed out', () => {
    const deny = outputOf('PermissionRequest', { kind: 'finished', requestId: 'r', status: 'resolved', decision: 'deny', decidedBy: 'bob' });
    expect(JSON.stringify(deny)).toContain('Denied in Gatehouse by the client \\"bob\\".');
    const timedOut = outputOf('PreToolUse', { kind: 'finished', requestId: 'r', status: 'timedOut', decision: 'deny' });
    expect(JSON.stringify(timedOut)).toMatch(/timed out/i);
  });

  it('HOOK-5: stepping aside is "ask" for PreToolUse and no decision for PermissionRequest', () => {
    expect(stepAside('PermissionRequest', 'x')).toEqual({});
    expect(stepAside('PreToolUse', 'x')).toMatchObject({ hookSpecificOutput: { hookEventName: 'PreToolUse', permissionDecision: 'ask' } });
    expect(outputOf('PreToolUse', { kind: 'unavailable', down: true, reason: 'down' })).toMatchObject({ hookSpecificOutput: { permissionDecision: 'ask' } });
  });

  it('HOOK-7: malformed input is reported, with the event when readable', () => {
    expect(parseHookInput('not json')).toEqual({ ok: false, error: 'stdin is not JSON' });
    const missing = parseHookInput(JSON.stringify({ hook_event_name: 'PreToolUse' }));
    expect(missing.ok).toBe(false);
    if (!missing.ok) expect(missing.event).toBe('PreToolUse');
  });
});
