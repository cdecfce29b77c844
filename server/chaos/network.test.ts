/**
 * Chaos: the network misbehaves. Clients are cut at random under load, stop reading
 * (half-open), read too slowly (closed with 4000), or never answer protocol pings; each
 * then resumes with since + epoch without losing or doubling an event (its StreamChecker
 * spans every connection), and the clients that behave are served throughout.
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { connectClient, startServerProcess, type ServerProcess, type TestClient } from '../testing/index.ts';
import { createRequest, frameOf, watch, type Watched } from '../../scripts/lib/chaosKit.ts';
import { runPermissions } from '../../scripts/lib/permissionRun.js';

const servers: ServerProcess[] = [];
const watchers: Watched[] = [];
const raw: TestClient[] = [];
afterAll(async () => {
  for (const w of watchers) w.client.close();
  for (const c of raw) c.terminate();
  for (const s of servers) await s.stop();
});

async function start(args: string[] = [], env: Record<string, string> = {}) {
  const server = await startServerProcess({ args, env });
  servers.push(server);
  return server;
}

function watched(server: ServerProcess, label: string) {
  const w = watch(() => server, label);
  watchers.push(w);
  return w;
}

const socketOf = (w: Watched) => (w.client.ws as unknown as { _socket: Socket })._socket;

describe('drops and dead peers', () => {
  it('CHAOS-5: clients cut at random (no close frame) under concurrent load resume with since + epoch and re-send unanswered decisions: no event lost or doubled, every request decided once', async () => {
    const server = await start();
    const seed = Number(process.env.CHAOS_SEED ?? Date.now() % 1_000_000);
    console.log(`CHAOS-5 seed ${seed} (CHAOS_SEED=${seed} replays the cut order)`);
    const result = await runPermissions({
      baseUrl: server.baseUrl,
      token: server.token,
      wsUrl: (params) => server.wsUrl(params),
      clients: 6,
      agents: 4,
      requests: 240,
      perAgent: 3,
      raceEvery: 3,
      cancelEvery: 7,
      reconnectEveryMs: 40,
      deadlineMs: 12_000,
      seed,
      log: () => {},
    });
    expect(result.violations).toEqual([]);
    expect(result.figures.reconnects).toBeGreaterThan(3);
    expect(result.figures.outcomes.resolved! + result.figures.outcomes.cancelled!).toBe(240);
  });

  it('CHAOS-6: a half-open client (stops reading, so answers no ping) is terminated; it resumes without loss while a control client is served throughout', async () => {
    const server = await start(['--ping-interval-ms', '250'], { DEBUG: 'websocket' });
    const stalled = watched(server, 'stalled');
    const control = watched(server, 'control');
    const welcome = await stalled.client.connect();
    await control.client.connect();
    const first = [await createRequest(server), await createRequest(server)];
    await frameOf(stalled, (f) => f.type === 'permission-request' && f.id === first[1]!.id);
    socketOf(stalled).pause();
    const during = [await createRequest(server), await createRequest(server)];
    await server.waitForStderr(new RegExp(`dead peer terminated client=${welcome.clientId}`), 5_000);
    const after = [await createRequest(server), await createRequest(server)];
    await frameOf(control, (f) => f.type === 'permission-request' && f.id === after[1]!.id);
    socketOf(stalled).resume();
    await stalled.client.until(() => stalled.client.closedInfo !== undefined, 5_000, 'the close');
    const again = await stalled.client.connect({ resume: true });
    expect(again.resumed).toBe(true);
    await frameOf(stalled, (f) => f.type === 'permission-request' && f.id === after[1]!.id);
    for (const r of [...first, ...during, ...after]) {
      expect(stalled.frames.filter((f) => f.type === 'permission-request' && f.id === r.id)).toHaveLength(1);
    }
    expect(stalled.client.checker.violations).toEqual([]);
    expect(control.client.checker.violations).toEqual([]);
    expect(control.client.closedInfo).toBeUndefined();
  });

  it('CHAOS-7: a slow consumer is closed with 4000 (the control client is not), and later resumes without loss', async () => {
    const server = await start(['--max-buffered-bytes', String(64 << 10)], { DEBUG: 'websocket' });
    const slow = watched(server, 'slow');
    const control = watched(server, 'control');
    const welcome = await slow.client.connect();
    await control.client.connect();
    socketOf(slow).pause();
    const closed = new RegExp(`slow consumer closed client=${welcome.clientId}`);
    let dropped = false;
    server.waitForStderr(closed, 14_000).then(
      () => (dropped = true),
      () => {},
    );
    const created = [];
    for (let i = 0; i < 400 && !dropped; i++)
      created.push(await createRequest(server, { toolName: 'Write', input: { blob: randomBytes(96 << 10).toString('base64') } }));
    await server.waitForStderr(closed, 1_000);
    created.push(await createRequest(server, { toolName: 'Read', input: { after: 'the drop' } }));
    const last = created[created.length - 1];
    await frameOf(control, (f) => f.type === 'permission-request' && f.id === last!.id);
    socketOf(slow).resume();
    await slow.client.until(() => slow.client.closedInfo !== undefined, 10_000, 'the close');
    expect(slow.client.closedInfo!.code).toBe(4000);
    const heldBefore = slow.client.checker.lastSeq;
    expect(heldBefore).toBeLessThan(last!.seq);
    const again = await slow.client.connect({ resume: true });
    expect(again.resumed).toBe(true);
    await frameOf(slow, (f) => f.type === 'permission-request' && f.id === last!.id, 'the last request', 15_000);
    expect(slow.client.checker.requests.size).toBe(created.length);
    expect(slow.client.checker.violations).toEqual([]);
    expect(control.client.checker.violations).toEqual([]);
    expect(control.client.closedInfo).toBeUndefined();
  }, 30_000);

  it('CHAOS-8, WS-17: a client that never answers protocol pings is dropped within two intervals; one that answers stays', async () => {
    const server = await start(['--ping-interval-ms', '200'], { DEBUG: 'websocket' });
    const silent = await connectClient(server.wsUrl(), { autoPong: false });
    const polite = await connectClient(server.wsUrl());
    raw.push(silent, polite);
    const silentWelcome = await silent.waitFor((f) => f.type === 'welcome');
    const opened = performance.now();
    const closed = await silent.closed;
    const lasted = performance.now() - opened;
    expect(closed.code).toBe(1006); // terminated, no close frame
    expect(lasted).toBeLessThan(2_000);
    await server.waitForStderr(new RegExp(`dead peer terminated client=${silentWelcome.clientId}`), 1_000);
    // The polite client has seen the same pings and is still served.
    polite.send({ type: 'ping', id: 'still-here' });
    await polite.waitFor((f) => f.type === 'pong' && f.id === 'still-here');
    expect(polite.ws.readyState).toBe(polite.ws.OPEN);
  });
});
