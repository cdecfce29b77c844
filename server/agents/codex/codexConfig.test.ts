import { describe, expect, it } from 'vitest';
import { parseServeArgs, type Config } from '../../config.ts';

function parse(argv: string[], env: Record<string, string> = {}): Config {
  const result = parseServeArgs(argv, env);
  if (result.help) throw new Error('help');
  return result.config;
}

describe('serve --agent codex', () => {
  it('CODEX-5: --agent codex takes the codex on PATH, or --codex-bin / GATEHOUSE_CODEX_BIN', () => {
    expect(parse(['--agent', 'codex'])).toMatchObject({ agent: 'codex' });
    expect(parse(['--agent', 'codex']).codexBin).toBeUndefined();
    expect(parse(['--agent', 'codex', '--codex-bin', '/opt/codex/bin/codex'])).toMatchObject({ agent: 'codex', codexBin: '/opt/codex/bin/codex' });
    expect(parse([], { GATEHOUSE_AGENT: 'codex', GATEHOUSE_CODEX_BIN: '/x/codex' })).toMatchObject({ agent: 'codex', codexBin: '/x/codex' });
    expect(() => parse(['--agent', 'codexx'])).toThrow(/expected demo, claude, codex or acp:CMD/);
  });
});
