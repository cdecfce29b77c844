import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mergeCodexHooks, type CodexSetupOptions } from '../agents/setup/codexHooks.ts';
import { isOurCodexHook } from '../agents/setup/codexTrust.ts';
import { gatehouseCommand } from '../agents/testing/gatehouseCli.ts';
import { runProcess } from '../agents/testing/runProcess.ts';

const dir = mkdtempSync(join(tmpdir(), 'gh-setup-codex-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function setup(...args: string[]) {
  const { command, args: prefix } = gatehouseCommand();
  return runProcess(command, [...prefix, 'setup', ...args], { env: { PATH: process.env.PATH, HOME: dir } });
}

const options: CodexSetupOptions = { bin: '/opt/gatehouse/bin/gatehouse', hookTimeoutSeconds: 130, env: {} };
const ours = { type: 'command', command: '/opt/gatehouse/bin/gatehouse hook --timeout 130 --agent codex', timeout: 130 };

describe('gatehouse setup codex', () => {
  it('CODEX-1: prints the hooks file: one PermissionRequest command hook running gatehouse hook --agent codex, absolute path, timeout', async () => {
    const run = await setup('codex', '--url', 'http://127.0.0.1:4567');
    expect(run.code, run.stderr).toBe(0);
    const file = JSON.parse(run.stdout);
    expect(Object.keys(file.hooks)).toEqual(['PermissionRequest']);
    const hook = file.hooks.PermissionRequest[0].hooks[0];
    expect(hook).toMatchObject({ type: 'command', timeout: 130 });
    expect(hook.command).toMatch(/^GATEHOUSE_URL=http:\/\/127.0.0.1:4567 \/.*\/bin\/gatehouse hook --timeout 130 --agent codex$/);
  });

  it('CODEX-1: merging keeps every other key and hook, replaces an earlier gatehouse hook, never duplicates ours', () => {
    const existing = {
      version: 1,
      hooks: {
        PermissionRequest: [
          {
            hooks: [
              { type: 'command', command: '/old/bin/gatehouse hook --agent codex', timeout: 30 },
              { type: 'command', command: 'python3 audit.py' },
            ],
          },
        ],
        PreToolUse: [{ matcher: 'Bash', hooks: [{ type: 'command', command: 'lint.sh' }] }],
      },
    };
    const once = mergeCodexHooks(existing, options);
    expect(once).toEqual({
      version: 1,
      hooks: {
        PermissionRequest: [{ hooks: [{ type: 'command', command: 'python3 audit.py' }] }, { hooks: [ours] }],
        PreToolUse: [{ matcher: 'Bash', hooks: [{ type: 'command', command: 'lint.sh' }] }],
      },
    });
    expect(mergeCodexHooks(once, options)).toEqual(once);
    expect(mergeCodexHooks(undefined, options)).toEqual({ hooks: { PermissionRequest: [{ hooks: [ours] }] } });
  });

  it('CODEX-1: a shape Codex would not read is refused, naming the key', () => {
    expect(() => mergeCodexHooks([], options)).toThrow('JSON object');
    expect(() => mergeCodexHooks({ hooks: [] }, options)).toThrow('"hooks"');
    expect(() => mergeCodexHooks({ hooks: { PermissionRequest: {} } }, options)).toThrow('"hooks.PermissionRequest"');
  });

  it('CODEX-1: --write merges into the file (mode kept); twice is once; non-JSON, a bad shape or config.toml are left unchanged with an error', async () => {
    const file = join(dir, 'hooks.json');
    writeFileSync(file, JSON.stringify({ hooks: { Stop: [{ hooks: [{ type: 'command', command: 'notify.sh' }] }] } }));
    chmodSync(file, 0o600);
    expect((await setup('codex', '--write', file)).code).toBe(0);
    expect((await setup('codex', '--write', file)).code).toBe(0);
    const merged = JSON.parse(readFileSync(file, 'utf8'));
    expect(merged.hooks.Stop).toEqual([{ hooks: [{ type: 'command', command: 'notify.sh' }] }]);
    expect(merged.hooks.PermissionRequest).toHaveLength(1);
    expect(statSync(file).mode & 0o777).toBe(0o600);

    for (const [name, text] of [
      ['broken.json', 'model = "x"\n'],
      ['shape.json', '{"hooks": []}'],
    ] as const) {
      const bad = join(dir, name);
      writeFileSync(bad, text);
      const run = await setup('codex', '--write', bad);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain('left unchanged');
      expect(readFileSync(bad, 'utf8')).toBe(text);
    }
    const toml = join(dir, 'config.toml');
    writeFileSync(toml, 'model = "x"\n');
    const run = await setup('codex', '--write', toml);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('not config.toml');
    expect(readFileSync(toml, 'utf8')).toBe('model = "x"\n');
  });

  it('CODEX-10: --trust trusts only our PermissionRequest command hook, never another hook Codex lists', () => {
    const hook = (command: string, extra: Record<string, unknown> = {}) => ({ handlerType: 'command', eventName: 'permissionRequest', command, ...extra });
    expect(isOurCodexHook(hook('/opt/gatehouse/bin/gatehouse hook --timeout 130 --agent codex'))).toBe(true);
    expect(isOurCodexHook(hook("GATEHOUSE_URL=http://127.0.0.1:1 '/my dir/bin/gatehouse' hook --agent codex"))).toBe(true);
    expect(isOurCodexHook(hook('python3 audit.py'))).toBe(false);
    expect(isOurCodexHook(hook('/opt/gatehouse/bin/gatehouse hook --timeout 130'))).toBe(false);
    expect(isOurCodexHook(hook('/opt/gatehouse/bin/gatehouse hook --agent codex', { eventName: 'preToolUse' }))).toBe(false);
    expect(isOurCodexHook({ handlerType: 'prompt', eventName: 'permissionRequest', command: 'gatehouse hook --agent codex' })).toBe(false);
  });

  it('CODEX-1: Claude-only flags are refused for codex', async () => {
    const run = await setup('codex', '--mcp');
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('"claude" only');
  });
});
