import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultAgentKind } from './chatService.ts';

const home = mkdtempSync(join(tmpdir(), 'gatehouse-agent-home-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

describe('which agent', () => {
  it('AGT-6: Claude when the environment can reach it (API key, base URL, or a Claude Code login), else the demo agent', () => {
    const empty = mkdtempSync(join(tmpdir(), 'gatehouse-empty-home-'));
    try {
      expect(defaultAgentKind({ HOME: empty })).toBe('demo');
      expect(defaultAgentKind({ HOME: empty, ANTHROPIC_API_KEY: 'k' })).toBe('claude');
      expect(defaultAgentKind({ HOME: empty, ANTHROPIC_BASE_URL: 'http://127.0.0.1:1' })).toBe('claude');
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
    mkdirSync(join(home, '.claude'), { recursive: true });
    writeFileSync(join(home, '.claude', '.credentials.json'), '{}');
    expect(defaultAgentKind({ HOME: home })).toBe('claude');
  });
});
