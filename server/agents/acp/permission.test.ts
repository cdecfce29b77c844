import { describe, expect, it } from 'vitest';
import type { AskOutcome } from '../client/ask.ts';
import { agentNameOf, allowAnswer, CANCELLED, parseAsk, rejectAnswer, requestSpecOf, toolOf, verdictOf, type AcpAsk } from './permission.ts';

const GEMINI_OPTIONS = [
  { optionId: 'proceed_always', name: 'Allow for this session', kind: 'allow_always' },
  { optionId: 'proceed_once', name: 'Allow', kind: 'allow_once' },
  { optionId: 'cancel', name: 'Reject', kind: 'reject_once' },
];

function ask(overrides: Partial<AcpAsk> & { toolCall?: Partial<AcpAsk['toolCall']> } = {}): AcpAsk {
  const parsed = parseAsk({
    sessionId: 's-1',
    options: overrides.options ?? GEMINI_OPTIONS,
    toolCall: { toolCallId: 'call-1', title: 'touch /tmp/x', kind: 'execute', status: 'pending', ...overrides.toolCall },
  });
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.value;
}

const resolved = (decision: 'allow' | 'deny', extra: Partial<Extract<AskOutcome, { kind: 'finished' }>> = {}): AskOutcome => ({
  kind: 'finished',
  requestId: 'r-1',
  status: 'resolved',
  decision,
  decidedBy: 'human',
  ...extra,
});

describe('ACP permission asks', () => {
  it("ACP-6: Gemini's shell ask becomes Bash with the command; claude-agent-acp keeps its Claude tool and input", () => {
    expect(toolOf(ask())).toEqual({ toolName: 'Bash', input: { command: 'touch /tmp/x' } });
    const claude = ask({
      options: [
        { optionId: 'allow_always', name: 'Always Allow', kind: 'allow_always' },
        { optionId: 'allow', name: 'Allow', kind: 'allow_once' },
        { optionId: 'reject', name: 'Reject', kind: 'reject_once' },
      ],
      toolCall: {
        toolCallId: 'toolu_1',
        title: 'touch /tmp/y',
        rawInput: { command: 'touch /tmp/y', description: 'd' },
        _meta: { claudeCode: { toolName: 'Bash' } },
      },
    });
    expect(toolOf(claude)).toEqual({ toolName: 'Bash', input: { command: 'touch /tmp/y', description: 'd' } });
    const write = ask({
      toolCall: { toolCallId: 't', kind: 'edit', title: 'Write /a', rawInput: { file_path: '/a', content: 'x' }, _meta: { claudeCode: { toolName: 'Write' } } },
    });
    expect(toolOf(write)).toEqual({ toolName: 'Write', input: { file_path: '/a', content: 'x' } });
  });

  it('ACP-6: a rawInput command wins over the title; an execute without a command string is not Bash', () => {
    // The title is what the agent shows; the raw input is what runs.
    expect(toolOf(ask({ toolCall: { toolCallId: 'c', title: 'ls', rawInput: { command: 'rm -rf /tmp/z' } } })).input).toEqual({ command: 'rm -rf /tmp/z' });
    const arrayCommand = toolOf(ask({ toolCall: { toolCallId: 'c', title: 'ls', rawInput: { command: ['rm', '-rf', '/'] } } }));
    expect(arrayCommand.toolName).toBe('acp:execute');
    expect(arrayCommand.input).toMatchObject({ kind: 'execute', title: 'ls', rawInput: { command: ['rm', '-rf', '/'] } });
  });

  it('ACP-6: other kinds become acp:<kind> with everything the agent showed in the input', () => {
    const diff = [{ type: 'diff', path: '/w/a.ts', oldText: 'a', newText: 'b' }];
    const edit = toolOf(ask({ toolCall: { toolCallId: 'e', kind: 'edit', title: 'a.ts', content: diff, locations: [{ path: '/w/a.ts' }] } }));
    expect(edit).toEqual({ toolName: 'acp:edit', input: { kind: 'edit', title: 'a.ts', locations: [{ path: '/w/a.ts' }], content: diff } });
    expect(toolOf(ask({ toolCall: { toolCallId: 'o', kind: null, title: 'Fetch' } })).toolName).toBe('acp:other');
  });

  it('ACP-6: the request context names the agent, session, tool call, options and description', () => {
    const spec = requestSpecOf(
      ask({ toolCall: { toolCallId: 'call-9', content: [{ type: 'content', content: { type: 'text', text: '(make the marker)' } }] } }),
      {
        agent: agentNameOf('/usr/local/bin/gemini'),
        cwd: '/w',
        idempotencyKey: 'k',
      },
    );
    expect(spec.context).toMatchObject({
      agent: 'acp:gemini',
      sessionId: 's-1',
      toolUseId: 'call-9',
      cwd: '/w',
      title: 'touch /tmp/x',
      kind: 'execute',
      description: '(make the marker)',
      acpOptions: GEMINI_OPTIONS,
    });
    expect(spec.idempotencyKey).toBe('k');
  });

  it("ACP-7: allow selects allow_once, never the agent's allow_always; deny selects reject_once", () => {
    const a = ask();
    expect(verdictOf(resolved('allow'), a, { command: 'touch /tmp/x' })).toMatchObject({
      kind: 'answer',
      answer: { outcome: { outcome: 'selected', optionId: 'proceed_once' } },
    });
    expect(verdictOf(resolved('allow', { decidedBy: 'rule:r1' }), a, { command: 'touch /tmp/x' })).toMatchObject({
      answer: { outcome: { optionId: 'proceed_once' } },
    });
    expect(verdictOf(resolved('deny'), a, {})).toMatchObject({ kind: 'answer', answer: { outcome: { outcome: 'selected', optionId: 'cancel' } } });
  });

  it('ACP-7: a missing option kind is never widened: no allow_once is a reject; no reject_once is the cancelled outcome', () => {
    const onlyAlways = [
      { optionId: 'always', kind: 'allow_always' },
      { optionId: 'no', kind: 'reject_once' },
    ];
    expect(allowAnswer(onlyAlways)).toEqual({ outcome: { outcome: 'selected', optionId: 'no' } });
    expect(allowAnswer([{ optionId: 'always', kind: 'allow_always' }])).toEqual(CANCELLED);
    expect(rejectAnswer([{ optionId: 'never', kind: 'reject_always' }])).toEqual(CANCELLED);
    // A kind this version does not know is read, kept, and never chosen.
    const future = ask({
      options: [
        { optionId: 'x', kind: 'allow_forever' },
        { optionId: 'y', kind: 'allow_once' },
      ],
    });
    expect(verdictOf(resolved('allow'), future, { command: 'touch /tmp/x' })).toMatchObject({ answer: { outcome: { optionId: 'y' } } });
  });

  it('ACP-7: an allow with an edited input is a reject (ACP cannot carry the edit)', () => {
    const verdict = verdictOf(resolved('allow', { updatedInput: { command: 'touch /tmp/safer' } }), ask(), { command: 'touch /tmp/x' });
    expect(verdict).toMatchObject({ kind: 'answer', answer: { outcome: { optionId: 'cancel' } } });
    // The same input echoed back is a plain allow.
    expect(verdictOf(resolved('allow', { updatedInput: { command: 'touch /tmp/x' } }), ask(), { command: 'touch /tmp/x' })).toMatchObject({
      answer: { outcome: { optionId: 'proceed_once' } },
    });
  });

  it('ACP-7: no decision (down, gave up, timed out, cancelled) is never an answer by itself', () => {
    const a = ask();
    for (const outcome of [
      { kind: 'unavailable', down: true, reason: 'x' },
      { kind: 'gave-up', reason: 'x' },
      { kind: 'finished', requestId: 'r', status: 'timedOut', decision: 'deny' },
      { kind: 'finished', requestId: 'r', status: 'cancelled', decision: 'deny' },
      // A malformed "allow" that did not resolve is not an allow.
      { kind: 'finished', requestId: 'r', status: 'cancelled', decision: 'allow' },
    ] as AskOutcome[]) {
      expect(verdictOf(outcome, a, {}).kind).toBe('no-decision');
    }
  });

  it('ACP-8: an unreadable ask is refused with the field named', () => {
    const bad = parseAsk({ sessionId: 's', options: 'yes', toolCall: { toolCallId: 'c' } });
    expect(bad).toMatchObject({ ok: false });
    expect(bad.ok ? '' : bad.error).toContain('options');
    expect(parseAsk(null).ok).toBe(false);
  });
});
