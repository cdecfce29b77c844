import { describe, expect, it } from 'vitest';
import { parseServeArgs } from '../../config.ts';
import { splitWords } from './words.ts';

describe('acp:CMD', () => {
  it('ACP-14: CMD is split into words shell-style, with no expansion', () => {
    expect(splitWords('gemini --acp -m gemini-2.5-flash')).toEqual({ ok: true, words: ['gemini', '--acp', '-m', 'gemini-2.5-flash'] });
    expect(splitWords(`'/opt/my agents/gemini' "--x=a b" c\\ d "q\\"q" 'it''s'`)).toEqual({
      ok: true,
      words: ['/opt/my agents/gemini', '--x=a b', 'c d', 'q"q', 'its'],
    });
    // Nothing a shell would expand is expanded: the words are run as written.
    expect(splitWords('run $HOME ~ * `id` $(id) ; rm')).toEqual({ ok: true, words: ['run', '$HOME', '~', '*', '`id`', '$(id)', ';', 'rm'] });
    expect(splitWords("''")).toEqual({ ok: true, words: [''] });
  });

  it('ACP-14: an unterminated quote, a lone backslash or no command is refused', () => {
    expect(splitWords('gemini "--acp')).toMatchObject({ ok: false, error: expect.stringContaining('double quote') });
    expect(splitWords("gemini '--acp")).toMatchObject({ ok: false, error: expect.stringContaining('single quote') });
    expect(splitWords('gemini \\')).toMatchObject({ ok: false });
    expect(splitWords('   ')).toMatchObject({ ok: false, error: 'no command' });
  });

  it('ACP-14: serve takes --agent acp:CMD (and GATEHOUSE_AGENT); a bad CMD stops it with the flag named', () => {
    const parsed = parseServeArgs(['--agent', 'acp:gemini --acp'], {});
    expect(parsed.help ? undefined : parsed.config.agent).toBe('acp:gemini --acp');
    const fromEnv = parseServeArgs([], { GATEHOUSE_AGENT: 'acp:claude-agent-acp' });
    expect(fromEnv.help ? undefined : fromEnv.config.agent).toBe('acp:claude-agent-acp');
    expect(() => parseServeArgs(['--agent', 'acp:'], {})).toThrow(/--agent: acp:CMD needs a command/);
    expect(() => parseServeArgs(['--agent', 'acp:"gemini'], {})).toThrow(/--agent/);
    expect(() => parseServeArgs(['--agent', 'robot'], {})).toThrow(/expected demo, claude, codex or acp:CMD/);
    // It names the agent on every card: no longer than an id.
    expect(() => parseServeArgs(['--agent', `acp:/${'x'.repeat(200)}`], {})).toThrow(/at most 200 characters/);
  });
});
