/**
 * `gatehouse pair` (SPEC.md PAIR-*): the real `bin/gatehouse pair` against the real
 * server, a lure that answers like Gatehouse would, and a transparent TCP tap in front of
 * the real server (on [::1] at the server's port, which the server accepts as one of its
 * own names), so a test sees every byte `pair` sent.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import QRCode from 'qrcode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatehouseCommand } from '../agents/testing/gatehouseCli.ts';
import { leaked, startLureServer, type LureHello } from '../agents/testing/lureServer.ts';
import { runProcess } from '../agents/testing/runProcess.ts';
import { startServerProcess, type ServerProcess } from '../testing/index.ts';

const dirs: string[] = [];
function dataDir(files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'gh-pair-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), `${text}\n`, { mode: 0o600 });
  return dir;
}

function runPair(env: Record<string, string | undefined>) {
  const { command, args } = gatehouseCommand();
  return runProcess(command, [...args, 'pair'], { env: { PATH: process.env.PATH, HOME: env.GATEHOUSE_DATA_DIR, ...env } });
}

/** Every byte clients sent through the tap, per connection. */
type Tap = { url: string; sent: string[]; close(): Promise<void> };
async function startTap(targetPort: number): Promise<Tap> {
  const sent: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const index = sent.push('') - 1;
    const upstream = connect(targetPort, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => sockets.delete(socket));
    }
    client.on('data', (chunk: Buffer) => {
      sent[index] += chunk.toString('latin1');
    });
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(targetPort, '::1', resolve);
  });
  return {
    url: `http://[::1]:${targetPort}`,
    sent,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

let server: ServerProcess;
beforeAll(async () => {
  server = await startServerProcess();
});
afterAll(async () => {
  await server?.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const LINK = /^(http:\/\/\S+\/pair\/([A-Za-z0-9_-]+))$/m;

describe('PAIR: gatehouse pair', () => {
  it("PAIR-1: with the server's data directory, prints a one-time /pair/CODE link and its QR code; opening it makes a device, a second open answers 410", async () => {
    const run = await runPair({ GATEHOUSE_URL: server.baseUrl, GATEHOUSE_DATA_DIR: server.dataDir });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const link = LINK.exec(run.stdout)?.[1];
    expect(link).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${server.port}/pair/`));
    // The QR code of exactly that link, as qrcode draws it for a terminal.
    expect(run.stdout).toContain(await QRCode.toString(link!, { type: 'terminal', small: true }));

    const opened = await fetch(link!, { redirect: 'manual' });
    expect(opened.status).toBe(302);
    const cookie = opened.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(new RegExp(`^gatehouse_${server.port}=`));
    const devices = await fetch(`${server.baseUrl}/api/devices`, { headers: { cookie: cookie.split(';')[0]!, 'x-gatehouse-client': 'web' } });
    expect(devices.status).toBe(200);

    const again = await fetch(link!, { redirect: 'manual' });
    expect(again.status).toBe(410);
    expect(again.headers.get('set-cookie')).toBeNull();
  });

  it('PAIR-1: the owner token from GATEHOUSE_TOKEN, the agent token from GATEHOUSE_AGENT_TOKEN (no token files)', async () => {
    const run = await runPair({
      GATEHOUSE_URL: server.baseUrl,
      GATEHOUSE_DATA_DIR: dataDir(),
      GATEHOUSE_TOKEN: server.token,
      GATEHOUSE_AGENT_TOKEN: server.agentToken,
    });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(LINK);
  });

  it.each<LureHello>(['missing', 'garbage', 'wrong-key', 'echo'])(
    'PAIR-2: a lure at GATEHOUSE_URL (hello %s) gets the hello and nothing else: no owner or agent token, exit 1 saying why',
    async (hello) => {
      const lure = await startLureServer(hello);
      try {
        const owner = `owner-${randomBytes(16).toString('hex')}`;
        const agent = `agent-${randomBytes(16).toString('hex')}`;
        const run = await runPair({ GATEHOUSE_URL: lure.url, GATEHOUSE_DATA_DIR: dataDir({ token: owner, 'agent-token': agent }) });
        expect(run.code).toBe(1);
        expect(run.stderr).toMatch(/did not prove it knows the agent token/);
        expect(run.stdout).toBe('');
        expect(lure.recorded.map((r) => `${r.method} ${r.url}`)).toEqual(['POST /api/agent/hello']);
        expect(leaked(lure.recorded, [owner, agent])).toEqual([]);
      } finally {
        await lure.close();
      }
    },
  );

  it('PAIR-3: with no agent token, or no owner token, exits 1 naming what is missing and sends nothing at all', async () => {
    const lure = await startLureServer('wrong-key');
    try {
      const noAgent = await runPair({ GATEHOUSE_URL: lure.url, GATEHOUSE_DATA_DIR: dataDir({ token: server.token! }) });
      expect(noAgent.code).toBe(1);
      expect(noAgent.stderr).toMatch(/no agent token/);
      const noOwner = await runPair({ GATEHOUSE_URL: lure.url, GATEHOUSE_DATA_DIR: dataDir({ 'agent-token': server.agentToken! }) });
      expect(noOwner.code).toBe(1);
      expect(noOwner.stderr).toMatch(/no owner token/);
      expect(lure.recorded).toEqual([]);
    } finally {
      await lure.close();
    }
  });

  it("PAIR-4: the real server with another data directory's agent token cannot prove itself: exit 1, only the hello crossed the wire, no pairing made", async () => {
    const tap = await startTap(server.port);
    try {
      // Control: through the tap with the right tokens, pair works and the tap sees the owner token go out.
      const ok = await runPair({ GATEHOUSE_URL: tap.url, GATEHOUSE_DATA_DIR: server.dataDir });
      expect(ok.code).toBe(0);
      expect(ok.stdout).toMatch(new RegExp(`^http://\\[::1\\]:${server.port}/pair/`, 'm'));
      expect(tap.sent.join('')).toContain(`Bearer ${server.token}`);
      tap.sent.length = 0;

      const other = dataDir({ token: server.token!, 'agent-token': `agent-of-another-dir-${randomBytes(16).toString('hex')}` });
      const run = await runPair({ GATEHOUSE_URL: tap.url, GATEHOUSE_DATA_DIR: other });
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/did not prove it knows the agent token.*another data directory/);
      expect(run.stdout).toBe('');
      const wire = tap.sent.join('');
      expect(wire).toMatch(/^POST \/api\/agent\/hello HTTP\/1\.1\r\n/);
      expect(wire.match(/^[A-Z]+ \S+ HTTP\/1\.1\r\n/gm)).toHaveLength(1);
      expect(wire).not.toContain(server.token!);
      expect(wire.toLowerCase()).not.toContain('authorization');
    } finally {
      await tap.close();
    }
  });
});
