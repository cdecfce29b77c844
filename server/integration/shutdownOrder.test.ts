/**
 * The order of a stop (SPEC.md OPS-3): the broker drains before any plugin stops, so
 * nothing is created or waited on past the plugins' follow-ups. Once `stop()` began, a
 * create (an HTTP call already past the guard, an in-process agent) is refused instead of
 * being stored where no rule engine looks at it any more, and an in-process agent's wait
 * is answered; the plugins stop after that, and what they still append or cancel is
 * stored. The real server in-process with the agents plugin, and a plugin whose stop the
 * test holds (as the chat's stop waits for its turns).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import createAgentsPlugin from '../agents/plugin.ts';
import { askPermission, type GateAnswer } from '../agents/permissionGate.ts';
import { HostStoppedError } from '../brokerHost.ts';
import { testConfig } from '../config.ts';
import { silentLogger } from '../log.ts';
import type { PluginFactory } from '../plugin.ts';
import { startServer } from '../server.ts';

const cleanups: Array<() => unknown> = [];
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('stop order (OPS-3)', () => {
  it('OPS-3: the broker drains before the plugins stop: a create during their stop is refused, not left to a stopped rule engine; agents are answered first', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-stop-order-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    let pluginStopping: () => void = () => {};
    const reached = new Promise<void>((resolve) => (pluginStopping = resolve));
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    const slow: PluginFactory = () => ({
      name: 'slow',
      stop: () => {
        pluginStopping();
        return released;
      },
    });
    const server = await startServer(testConfig({ dataDir, host: '127.0.0.1', auth: false }), {
      logger: silentLogger,
      plugins: [createAgentsPlugin, slow],
    });
    cleanups.push(() => {
      release();
      return server.stop();
    });
    const rule = await fetch(`${server.baseUrl}/api/rules`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ toolName: 'Bash', pattern: 'ls', scope: 'global', decision: 'allow' }),
    });
    expect(rule.status).toBe(201);
    // An in-process agent waits for a human.
    let agentAnswer: GateAnswer | undefined;
    const agent = askPermission(server.host, { toolName: 'Bash', input: { command: 'make deploy' }, context: {}, timeoutMs: 60_000 }).then(
      (answer) => (agentAnswer = answer),
    );
    await new Promise((r) => setImmediate(r));
    expect(server.host.outcomeWaits).toBe(1);

    const stopping = server.stop();
    await reached;
    // A plugin is stopping (the agents plugin, listed first, has stopped: its rule engine too).
    let refused: unknown;
    try {
      await server.host.create({ toolName: 'Bash', input: { command: 'ls' }, context: {}, timeoutMs: 60_000, origin: 'http' });
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(HostStoppedError);
    // The agent was answered (a deny: nobody will decide) before any plugin stopped.
    expect(agentAnswer).toMatchObject({ behavior: 'deny', outcome: 'failed' });
    expect(server.host.brokerState()).toBe('draining');
    release();
    await stopping;
    await agent;
  });
});
