/**
 * E2E support: each test gets its own real server process (server/testing helpers) with
 * a temporary data directory, a page opened with `?token=` (the server trades it for a
 * cookie), and helpers that play the agent over HTTP (create a request, long-poll it).
 */
import { test as base, expect, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServerProcess, type ServerProcess } from '../../server/testing/index.ts';

export { expect };

export type Gatehouse = {
  server: ServerProcess;
  dataDir: string;
  /** SIGKILL the server (the page stays open). */
  kill(): Promise<void>;
  /** Start it again on the same port and data directory. */
  restart(): Promise<ServerProcess>;
  createRequest(body: { toolName: string; input: Record<string, unknown>; context?: Record<string, unknown>; timeoutMs?: number }): Promise<string>;
  /** The agent's long-poll: resolves with the request once it is no longer pending. */
  outcome(id: string, maxSeconds?: number): Promise<Record<string, any>>;
};

function descendants(pid: number | undefined): number[] {
  if (pid === undefined) return [];
  let out = '';
  try {
    out = execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' });
  } catch {
    return []; // no children
  }
  const children = out
    .split('\n')
    .map((x) => Number(x.trim()))
    .filter((x) => x > 0);
  return children.flatMap((child) => [...descendants(child), child]);
}

/** `serverEnv`: more environment for the server (a real agent's fake model, its home). */
type Fixtures = { serverArgs: string[]; serverEnv: Record<string, string | undefined>; gatehouse: Gatehouse };

export const test = base.extend<Fixtures>({
  serverArgs: [['--agent', 'demo'], { option: true }],
  serverEnv: [{}, { option: true }],
  gatehouse: async ({ serverArgs, serverEnv }, use) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-e2e-'));
    let server = await startServerProcess({ args: serverArgs, dataDir, env: serverEnv });
    const port = server.port;
    const g: Gatehouse = {
      get server() {
        return server;
      },
      dataDir,
      async kill() {
        // tsx runs the server in a child node process and cannot relay SIGKILL: kill the
        // whole tree, children first, or the real server keeps listening.
        for (const pid of descendants(server.proc.pid)) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
        await server.kill('SIGKILL');
      },
      async restart() {
        server = await startServerProcess({ args: [...serverArgs, '--port', String(port)], dataDir, env: serverEnv });
        return server;
      },
      async createRequest(body) {
        const res = await server.api('/api/permission-requests', { method: 'POST', json: body });
        expect(res.status, res.text).toBe(201);
        return res.body.id as string;
      },
      async outcome(id, maxSeconds = 30) {
        const until = Date.now() + maxSeconds * 1000;
        for (;;) {
          const res = await server.api(`/api/permission-requests/${encodeURIComponent(id)}?wait=10`);
          expect(res.status, res.text).toBe(200);
          if (res.body.status !== 'pending' || Date.now() > until) return res.body;
        }
      },
    };
    await use(g);
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  },
});

/** Open the UI the way a person does: the ready line's URL, with `?token=`. */
export async function openApp(page: Page, g: Gatehouse, hash = ''): Promise<void> {
  await page.goto(g.server.readyUrl + hash);
  await expect(page.getByTestId('connection-status')).toHaveText(/Connected/);
}

export function card(page: Page, id: string) {
  return page.locator(`[data-testid="request-card"][data-request-id="${id}"]`);
}

export function historyEntry(page: Page, id: string) {
  return page.locator(`[data-testid="history-entry"][data-request-id="${id}"]`);
}

export const bash = (command: string, extra: Record<string, unknown> = {}) => ({
  toolName: 'Bash',
  input: { command, description: 'e2e journey' },
  context: { sessionId: 'e2e-session', cwd: '/work/project', agent: 'e2e-agent' },
  ...extra,
});

export const SCREENSHOTS = join(process.cwd(), 'docs/screenshots');
