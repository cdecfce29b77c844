import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dataDirDenyRules, isOurHookCommand, mergeSettings, type SetupOptions } from '../agents/setup/claudeSettings.ts';
import { gatehouseCommand } from '../agents/testing/gatehouseCli.ts';
import { runProcess } from '../agents/testing/runProcess.ts';

const dir = mkdtempSync(join(tmpdir(), 'gh-setup-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function setup(...args: string[]) {
  return setupWith({}, ...args);
}

function setupWith(env: Record<string, string>, ...args: string[]) {
  const { command, args: prefix } = gatehouseCommand();
  return runProcess(command, [...prefix, 'setup', ...args], { env: { PATH: process.env.PATH, HOME: dir, ...env } });
}

const options: SetupOptions = {
  bin: '/opt/gatehouse/bin/gatehouse',
  event: 'PermissionRequest',
  hookTimeoutSeconds: 130,
  env: {},
  dataDirs: ['/home/u/.gatehouse'],
};
const ourDeny = (d: string) => [`Read(/${d}/**)`, `Edit(/${d}/**)`, `Bash(*${d}*)`];

describe('gatehouse setup claude', () => {
  it('SETUP-1: prints the PermissionRequest hook with an absolute path and a timeout above the request timeout', async () => {
    const run = await setup('claude');
    expect(run.code).toBe(0);
    const settings = JSON.parse(run.stdout);
    const hook = settings.hooks.PermissionRequest[0].hooks[0];
    expect(hook.type).toBe('command');
    expect(hook.command).toMatch(/^\/.*\/bin\/gatehouse hook --timeout 130$/);
    expect(hook.timeout).toBe(130);
    expect(settings.hooks.PreToolUse).toBeUndefined();
  });

  it('SETUP-1: --pre-tool-use and --mcp print the PreToolUse hook and the MCP config', async () => {
    const run = await setup('claude', '--pre-tool-use', '--mcp', '--url', 'http://127.0.0.1:4567');
    const output = JSON.parse(run.stdout);
    expect(output.settings.hooks.PreToolUse[0].hooks[0].command).toMatch(/^GATEHOUSE_URL=http:\/\/127.0.0.1:4567 \/.*gatehouse hook/);
    expect(output.mcpConfig.mcpServers.gatehouse).toMatchObject({ type: 'stdio', args: ['mcp'], env: { GATEHOUSE_URL: 'http://127.0.0.1:4567' } });
    expect(output.permissionPromptTool).toBe('mcp__gatehouse__approve');
  });

  it('SETUP-2: --write keeps every other key of an existing settings file and does not duplicate our hook', async () => {
    const file = join(dir, 'settings.json');
    const existing = {
      model: 'opus',
      permissions: { allow: ['Bash(ls:*)'] },
      hooks: {
        PermissionRequest: [{ matcher: 'Bash', hooks: [{ type: 'command', command: '/usr/local/bin/other-hook' }] }],
        Stop: [{ hooks: [{ type: 'command', command: 'notify-send done' }] }],
      },
    };
    writeFileSync(file, JSON.stringify(existing));
    expect((await setup('claude', '--write', file)).code).toBe(0);
    expect((await setup('claude', '--write', file)).code).toBe(0);
    const merged = JSON.parse(readFileSync(file, 'utf8'));
    expect(merged.model).toBe('opus');
    expect(merged.permissions.allow).toEqual(existing.permissions.allow);
    expect(merged.permissions.deny).toEqual(ourDeny(join(dir, '.gatehouse')));
    expect(merged.hooks.Stop[0]).toEqual(existing.hooks.Stop[0]);
    expect(
      merged.hooks.Stop.flatMap((entry: { hooks: Array<{ command: string }> }) => entry.hooks).filter((hook: { command: string }) =>
        isOurHookCommand(hook.command),
      ),
    ).toHaveLength(1);
    expect(merged.hooks.PermissionRequest[0]).toEqual(existing.hooks.PermissionRequest[0]);
    const ours = merged.hooks.PermissionRequest.flatMap((entry: { hooks: Array<{ command: string }> }) => entry.hooks).filter((hook: { command: string }) =>
      isOurHookCommand(hook.command),
    );
    expect(ours).toHaveLength(1);
  });

  it('SETUP-2: a settings file that is not JSON is left unchanged, with a clear error', async () => {
    const file = join(dir, 'broken.json');
    writeFileSync(file, '{ oops');
    const run = await setup('claude', '--write', file);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/left unchanged/);
    expect(readFileSync(file, 'utf8')).toBe('{ oops');
  });

  it('SETUP-2: switching to PreToolUse moves our hook instead of adding a second one', () => {
    const first = mergeSettings(undefined, options);
    const second = mergeSettings(first, { ...options, event: 'PreToolUse' }) as { hooks: Record<string, unknown[]> };
    expect(second.hooks.PermissionRequest).toBeUndefined();
    expect(second.hooks.PreToolUse).toHaveLength(1);
  });

  it('CCH-11: --http prints the http hook: url with the hook budget, the agent token from the environment only, allowedEnvVars, timeout, onFailure continue; --fail-closed blocks', async () => {
    const run = await setup('claude', '--http', '--url', 'http://127.0.0.1:4567');
    expect(run.code).toBe(0);
    const settings = JSON.parse(run.stdout);
    expect(settings.hooks.PermissionRequest).toEqual([
      {
        matcher: '*',
        hooks: [
          {
            type: 'http',
            url: 'http://127.0.0.1:4567/api/hooks/claude?timeout=130',
            headers: { Authorization: 'Bearer $GATEHOUSE_AGENT_TOKEN' },
            allowedEnvVars: ['GATEHOUSE_AGENT_TOKEN'],
            timeout: 130,
            onFailure: 'continue',
          },
        ],
      },
    ]);
    expect(run.stdout).not.toMatch(/agent-token-|GATEHOUSE_TOKEN/);
    expect(run.stderr).toMatch(/GATEHOUSE_AGENT_TOKEN.*never the owner token/);
    for (const event of ['PostToolUse', 'PostToolUseFailure', 'PermissionDenied', 'Stop']) {
      const hook = settings.hooks[event][0].hooks[0];
      expect(hook, event).toMatchObject({
        type: 'http',
        url: 'http://127.0.0.1:4567/api/hooks/claude',
        headers: { Authorization: 'Bearer $GATEHOUSE_AGENT_TOKEN' },
        timeout: 3,
      });
      expect(hook.onFailure).toBeUndefined();
    }
    const closed = JSON.parse((await setup('claude', '--http', '--fail-closed')).stdout);
    expect(closed.hooks.PermissionRequest[0].hooks[0]).toMatchObject({ url: 'http://127.0.0.1:3000/api/hooks/claude?timeout=130', onFailure: 'block' });
    expect((await setup('claude', '--fail-closed')).code).toBe(2);
  });

  it('CCH-11: the command variant installs the after-event hooks as async command hooks of gatehouse hook', async () => {
    const settings = JSON.parse((await setup('claude')).stdout);
    for (const event of ['PostToolUse', 'PostToolUseFailure', 'PermissionDenied', 'Stop']) {
      const hook = settings.hooks[event][0].hooks[0];
      expect(hook.type).toBe('command');
      expect(hook.async).toBe(true);
      expect(isOurHookCommand(hook.command)).toBe(true);
    }
    expect(settings.hooks.Stop[0].matcher).toBeUndefined();
  });

  it('CCH-11: switching between the command and http variants replaces our hooks in every event, keeping the others', () => {
    const other = { type: 'http', url: 'https://example.com/hooks', timeout: 5 };
    const start = { hooks: { PostToolUse: [{ matcher: '*', hooks: [other] }] } };
    const command = mergeSettings(start, options) as { hooks: Record<string, Array<{ hooks: Array<Record<string, unknown>> }>> };
    const http = mergeSettings(command, { ...options, http: { baseUrl: 'http://127.0.0.1:3000', onFailure: 'continue' } }) as typeof command;
    const back = mergeSettings(http, options) as typeof command;
    for (const settings of [command, http, back]) {
      for (const event of ['PermissionRequest', 'PostToolUse', 'PostToolUseFailure', 'PermissionDenied', 'Stop']) {
        const ours = settings.hooks[event]!.flatMap((entry) => entry.hooks).filter(
          (hook) => hook !== other && (isOurHookCommand(hook.command) || hook.type === 'http'),
        );
        expect(ours, event).toHaveLength(1);
      }
      expect(settings.hooks.PostToolUse![0]!.hooks[0]).toEqual(other);
    }
    expect(http.hooks.PermissionRequest![0]!.hooks[0]!.type).toBe('http');
    expect(back.hooks.PermissionRequest![0]!.hooks[0]!.type).toBe('command');
  });

  it('SETUP-3: bad arguments are refused with a usage line', async () => {
    const run = await setup('vim');
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/Usage: gatehouse setup claude/);
  });

  it('AGENT-6: setup claude also denies Read, Edit and Bash on the data directory (GATEHOUSE_DATA_DIR, else ~/.gatehouse), as absolute // rules', async () => {
    const byDefault = JSON.parse((await setup('claude')).stdout);
    expect(byDefault.permissions).toEqual({ deny: ourDeny(join(dir, '.gatehouse')) });
    expect(byDefault.permissions.deny[0]).toMatch(/^Read\(\/\/tmp\//);
    const data = join(dir, 'data');
    const chosen = JSON.parse((await setupWith({ GATEHOUSE_DATA_DIR: data }, 'claude', '--mcp')).stdout);
    expect(chosen.settings.permissions.deny).toEqual(ourDeny(data));
    // No Write(…) path rule: Claude Code ignores those (Edit covers every editing tool).
    expect(chosen.settings.permissions.deny.some((rule: string) => rule.startsWith('Write('))).toBe(false);
  });

  it('AGENT-6: a symlinked data directory is denied under both names; one with pattern characters gets a warning and no rule', async () => {
    const real = join(dir, 'real-data');
    mkdirSync(real, { recursive: true });
    const link = join(dir, 'link-data');
    symlinkSync(real, link);
    const linked = JSON.parse((await setupWith({ GATEHOUSE_DATA_DIR: link }, 'claude')).stdout);
    expect(linked.permissions.deny).toEqual([...ourDeny(link), ...ourDeny(real)]);
    const odd = await setupWith({ GATEHOUSE_DATA_DIR: join(dir, 'data[1]*') }, 'claude');
    expect(odd.code).toBe(0);
    expect(odd.stderr).toMatch(/warning: .*pattern syntax.*no deny rule/);
    expect(JSON.parse(odd.stdout).permissions).toBeUndefined();
    expect(dataDirDenyRules(['relative/dir', '/ok/dir/'])).toEqual(ourDeny('/ok/dir'));
  });

  it('AGENT-6: --write adds the deny rules once, keeps the deny rules already there, and refuses a permissions value that is not an object', async () => {
    const file = join(dir, 'deny.json');
    writeFileSync(file, JSON.stringify({ permissions: { deny: ['Bash(rm -rf:*)', `Read(/${join(dir, '.gatehouse')}/**)`], ask: ['Bash(git push:*)'] } }));
    expect((await setup('claude', '--write', file)).code).toBe(0);
    expect((await setup('claude', '--write', file)).code).toBe(0);
    const merged = JSON.parse(readFileSync(file, 'utf8'));
    expect(merged.permissions.ask).toEqual(['Bash(git push:*)']);
    expect(merged.permissions.deny).toEqual(['Bash(rm -rf:*)', ...ourDeny(join(dir, '.gatehouse'))]);
    expect(() => mergeSettings({ permissions: ['x'] }, options)).toThrow(/"permissions" .* not an object/);
    expect(() => mergeSettings({ permissions: { deny: 'x' } }, options)).toThrow(/"permissions.deny" .* not a list/);
  });
});
