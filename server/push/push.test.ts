/**
 * Web Push end to end on the server side: the real server (in-process `startServer`, real
 * HTTP, real WebSocket), a fake push service on loopback that verifies the VAPID JWT and
 * decrypts the aes128gcm payload with keys made here, and a SimulatedClock for the delay.
 */
import { mkdtempSync, rmSync, statSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { testConfig } from '../config.ts';
import { createLogger, silentLogger, type Logger } from '../log.ts';
import { startServer, type RunningServer } from '../server.ts';
import { connectAndJoin, type TestClient } from '../testing/wsClient.ts';
import type { PushActivity } from './notifier.ts';
import { topicFor } from './sender.ts';
import { startFakePushService, type FakePushService, type TestSubscription } from './testing/fakePushService.ts';

const DELAY = 3_000;
const SECRET = 'SECRET-INPUT-7f3a';

let service: FakePushService;
const dirs: string[] = [];
const running: RunningServer[] = [];
const clients: TestClient[] = [];

beforeAll(async () => {
  service = await startFakePushService();
});
afterAll(async () => {
  await service.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  for (const s of running.splice(0)) await s.stop();
  service.received.length = 0;
});

type Started = {
  server: RunningServer;
  clock: SimulatedClock;
  activity: PushActivity[];
  dataDir: string;
  api(
    path: string,
    init?: { method?: string; json?: unknown; token?: string | null | undefined; headers?: Record<string, string> },
  ): Promise<{ status: number; body: any }>;
};

async function start(options: { dataDir?: string; origins?: string[]; deviceOf?: (c: any) => string | undefined; logger?: Logger } = {}): Promise<Started> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'gatehouse-push-'));
  if (!options.dataDir) dirs.push(dataDir);
  const clock = new SimulatedClock();
  const activity: PushActivity[] = [];
  const config = testConfig({
    dataDir,
    push: { delayMs: DELAY, allowedOrigins: options.origins ?? [service.origin], subject: 'mailto:push-test@example.com' },
  });
  const server = await startServer(config, {
    logger: options.logger ?? silentLogger,
    push: { clock, onActivity: (a) => activity.push(a), ...(options.deviceOf ? { deviceOf: options.deviceOf } : {}) },
  });
  running.push(server);
  const api: Started['api'] = async (path, init = {}) => {
    const token = init.token === undefined ? server.token : init.token;
    const res = await fetch(`${server.baseUrl}${path}`, {
      method: init.method ?? 'GET',
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(init.json !== undefined ? { 'content-type': 'application/json' } : {}),
        ...init.headers,
      },
      ...(init.json !== undefined ? { body: JSON.stringify(init.json) } : {}),
    });
    const text = await res.text();
    let body: any = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON
    }
    return { status: res.status, body };
  };
  const key = await api('/api/push/key');
  service.trustKey(key.body.publicKey);
  return { server, clock, activity, dataDir, api };
}

async function subscribe(s: Started, sub: TestSubscription = service.newSubscription(), headers: Record<string, string> = {}) {
  const res = await s.api('/api/push/subscriptions', { method: 'POST', json: { endpoint: sub.endpoint, expirationTime: null, keys: sub.keys }, headers });
  expect(res.status).toBe(201);
  return sub;
}

async function createRequest(s: Started, toolName = 'Bash') {
  const res = await s.api('/api/permission-requests', {
    method: 'POST',
    json: { toolName, input: { command: `curl -H "Authorization: ${SECRET}" https://example.test` }, context: { cwd: '/srv/secret-project', sessionId: 's1' } },
  });
  expect(res.status).toBe(201);
  return res.body as { id: string; seq: number; expiresAt: number };
}

async function joinScreen(s: Started) {
  const url = `ws://127.0.0.1:${s.server.port}/ws?token=${encodeURIComponent(s.server.token!)}`;
  const joined = await connectAndJoin(url);
  clients.push(joined.client);
  return joined.client;
}

const checked = (s: Started, requestId: string) => s.activity.filter((a) => a.type === 'checked' && a.requestId === requestId);

describe('Web Push (server side, real server, fake push service)', () => {
  it('PUSH-1: VAPID keys are made on first start, kept in the data directory with mode 0600, and the same after a restart', async () => {
    const first = await start();
    const key = await first.api('/api/push/key');
    expect(key.status).toBe(200);
    expect(Object.keys(key.body)).toEqual(['publicKey']);
    const raw = Buffer.from(key.body.publicKey, 'base64url');
    expect(raw.length).toBe(65);
    expect(raw[0]).toBe(4);
    const file = join(first.dataDir, 'vapid.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8')).publicKey).toBe(key.body.publicKey);
    await first.server.stop();
    running.length = 0;
    const second = await start({ dataDir: first.dataDir });
    expect((await second.api('/api/push/key')).body.publicKey).toBe(key.body.publicKey);
  });

  it('PUSH-4: a request no screen acknowledged within the delay is pushed once to each subscription: a real Web Push message whose payload holds no input', async () => {
    const s = await start();
    const [a, b] = [await subscribe(s), await subscribe(s)];
    // A connected screen that has not acknowledged the request does not hold it.
    const screen = await joinScreen(s);
    const before = Date.now();
    const request = await createRequest(s);
    await screen.waitFor((f) => f.type === 'permission-request' && f.id === request.id);

    s.clock.increment(DELAY - 1);
    await s.server.push.notifier.settled();
    expect(checked(s, request.id)).toEqual([]);
    s.clock.increment(1);
    await s.server.push.notifier.settled();
    expect(checked(s, request.id)).toEqual([{ type: 'checked', requestId: request.id, result: 'pushed' }]);

    const pushes = await service.waitFor((p) => p.message?.id === request.id, { count: 2 });
    expect(pushes.map((p) => p.endpoint).sort()).toEqual([a.endpoint, b.endpoint].sort());
    for (const push of pushes) {
      expect(push.error).toBeUndefined();
      expect(push.message).toEqual({ type: 'permission-request', id: request.id, toolName: 'Bash' });
      expect(push.plaintext).not.toContain(SECRET);
      expect(push.plaintext).not.toContain('secret-project');
      expect(push.vapidKey).toBe((await s.api('/api/push/key')).body.publicKey);
      expect(push.jwt?.payload).toMatchObject({ aud: service.origin, sub: 'mailto:push-test@example.com' });
      expect(push.headers.urgency).toBe('high');
      expect(push.headers.topic).toBe(topicFor(request.id));
      const ttl = Number(push.headers.ttl);
      expect(ttl).toBeGreaterThan(0);
      // The request's remaining life when pushed (not the push service's default of weeks).
      expect(ttl).toBeLessThanOrEqual(Math.ceil((request.expiresAt - before) / 1000));
    }

    // Never a second one: more time, more events, nothing more.
    s.clock.increment(10 * DELAY);
    await s.server.push.notifier.drained();
    expect(service.received).toHaveLength(2);
    expect(checked(s, request.id)).toHaveLength(1);
  });

  it('PUSH-5: a request a connected screen acknowledged within the delay is not pushed', async () => {
    const s = await start();
    await subscribe(s);
    const screen = await joinScreen(s);
    const request = await createRequest(s);
    const event = await screen.waitFor((f) => f.type === 'permission-request' && f.id === request.id);
    screen.send({ type: 'ack', seq: event.seq });
    // The server tells every screen the request is now being processed: the ack is in.
    await screen.waitFor((f) => f.type === 'permission-queue-status' && f.processing === 1);

    s.clock.increment(DELAY);
    await s.server.push.notifier.settled();
    expect(checked(s, request.id)).toEqual([{ type: 'checked', requestId: request.id, result: 'held' }]);
    await s.server.push.notifier.drained();
    expect(service.received).toEqual([]);

    // And a screen that acknowledged, then left before the delay, no longer holds it.
    const second = await createRequest(s);
    const event2 = await screen.waitFor((f) => f.type === 'permission-request' && f.id === second.id);
    screen.send({ type: 'ack', seq: event2.seq });
    await screen.waitFor((f) => f.type === 'permission-queue-status' && f.processing === 2);
    await screen.close();
    await waitUntil(() => s.server.host.queueStatus().processing === 0, s);
    s.clock.increment(DELAY);
    await s.server.push.notifier.settled();
    expect(checked(s, second.id)).toEqual([{ type: 'checked', requestId: second.id, result: 'pushed' }]);
    await service.waitFor((p) => p.message?.id === second.id);
  });

  it('PUSH-7: when a pushed request is decided anywhere, every subscription gets one permission-finished push (same topic); an unpushed one sends nothing', async () => {
    const s = await start();
    await subscribe(s);
    const request = await createRequest(s);
    s.clock.increment(DELAY);
    await service.waitFor((p) => p.message?.type === 'permission-request');
    const decided = await s.api(`/api/permission-requests/${request.id}/decision`, { method: 'POST', json: { decision: 'allow' } });
    expect(decided.status).toBe(200);
    const [finished] = await service.waitFor((p) => p.message?.type === 'permission-finished');
    expect(finished?.error).toBeUndefined();
    expect(finished?.message).toEqual({ type: 'permission-finished', id: request.id });
    expect(finished?.headers.topic).toBe(topicFor(request.id));

    // Decided before its delay: no push at all, so no "finished" either.
    const quick = await createRequest(s);
    expect((await s.api(`/api/permission-requests/${quick.id}/decision`, { method: 'POST', json: { decision: 'deny' } })).status).toBe(200);
    s.clock.increment(DELAY);
    await s.server.push.notifier.drained();
    expect(service.received.filter((p) => p.message?.id === quick.id)).toEqual([]);
    expect(service.received).toHaveLength(2);
    expect(await s.server.push.store.sentRequestIds()).toEqual([]);
  });

  it('PUSH-8: an endpoint answering 410 (or 404) loses its subscription; the others still get pushes', async () => {
    const s = await start();
    const gone = await subscribe(s);
    const missing = await subscribe(s);
    const alive = await subscribe(s);
    service.respondWith(gone.endpoint, 410);
    service.respondWith(missing.endpoint, 404);
    const first = await createRequest(s);
    s.clock.increment(DELAY);
    await service.waitFor((p) => p.message?.id === first.id, { count: 3 });
    await s.server.push.notifier.drained();
    const sent = s.activity.filter((a) => a.type === 'sent');
    expect(sent.filter((a) => a.type === 'sent' && a.removed)).toHaveLength(2);
    expect((await s.server.push.store.list()).map((x) => x.endpoint)).toEqual([alive.endpoint]);
    // Logs and activity never carry the endpoint's secret path.
    for (const a of sent) expect(a.type === 'sent' && a.endpoint).not.toContain('/push/');

    const second = await createRequest(s);
    s.clock.increment(DELAY);
    const pushes = await service.waitFor((p) => p.message?.id === second.id);
    await s.server.push.notifier.drained();
    expect(pushes.map((p) => p.endpoint)).toEqual([alive.endpoint]);
  });

  it('PUSH-8: a failing push service (500, connection refused) is logged without the endpoint path and does not stop the others or the server', async () => {
    const lines: string[] = [];
    const s = await start({ origins: [service.origin, 'http://127.0.0.1:1'], logger: createLogger({ write: (line) => lines.push(line), debug: 'push' }) });
    const failing = await subscribe(s);
    service.respondWith(failing.endpoint, 500);
    const refused = service.newSubscription();
    const refusedEndpoint = 'http://127.0.0.1:1/push/REFUSED-PATH';
    expect((await s.api('/api/push/subscriptions', { method: 'POST', json: { endpoint: refusedEndpoint, keys: refused.keys } })).status).toBe(201);
    const alive = await subscribe(s);
    const request = await createRequest(s);
    s.clock.increment(DELAY);
    await s.server.push.notifier.drained();
    const sent = s.activity.filter((a) => a.type === 'sent');
    expect(sent).toHaveLength(3);
    expect(sent.filter((a) => a.type === 'sent' && a.result.ok)).toHaveLength(1);
    expect(service.received.find((p) => p.endpoint === alive.endpoint)?.message).toEqual({ type: 'permission-request', id: request.id, toolName: 'Bash' });
    // Not removed (only 404 and 410 mean gone), and the server still answers.
    expect(await s.server.push.store.count()).toBe(3);
    expect((await s.api('/api/push/key')).status).toBe(200);
    expect(lines.some((l) => l.includes('push: send failed'))).toBe(true);
    const log = lines.join('\n');
    for (const secret of [failing.endpoint, alive.endpoint, 'REFUSED-PATH', new URL(failing.endpoint).pathname]) expect(log).not.toContain(secret);
  });

  it('PUSH-6: one push per request, also across a restart; an unpushed request restored after a restart gets a new delay', async () => {
    const s = await start();
    await subscribe(s);
    const pushed = await createRequest(s);
    s.clock.increment(DELAY);
    await service.waitFor((p) => p.message?.id === pushed.id);
    const later = await createRequest(s); // not pushed yet when the server stops
    await s.server.push.notifier.drained();
    await s.server.stop();
    running.length = 0;
    service.received.length = 0;

    const again = await start({ dataDir: s.dataDir });
    // The restart's pick-up (the store's claims) is done before the clock moves.
    await again.server.push.notifier.settled();
    again.clock.increment(DELAY);
    await again.server.push.notifier.settled();
    expect(checked(again, pushed.id)).toEqual([]);
    expect(checked(again, later.id)).toEqual([{ type: 'checked', requestId: later.id, result: 'pushed' }]);
    await service.waitFor((p) => p.message?.id === later.id);
    await again.server.push.notifier.drained();
    expect(service.received.filter((p) => p.message?.id === pushed.id)).toEqual([]);

    // The request pushed before the restart still gets its "finished".
    expect((await again.api(`/api/permission-requests/${pushed.id}/decision`, { method: 'POST', json: { decision: 'deny' } })).status).toBe(200);
    await service.waitFor((p) => p.message?.type === 'permission-finished' && p.message.id === pushed.id);
  });

  it('PUSH-2 PUSH-3: an endpoint outside --push-allowed-origins is refused with 400 naming it, and nothing is stored', async () => {
    const s = await start();
    const sub = service.newSubscription();
    const port = Number(new URL(service.origin).port);
    const refused = [
      'https://evil.example/push/x',
      `http://127.0.0.1:${port + 1}/push/x`, // another port of the same host
      `https://127.0.0.1:${port}/push/x`, // another scheme
      `http://localhost:${port}/push/x`, // another name for the same host
      'http://169.254.169.254/latest/meta-data',
      'file:///etc/passwd',
    ];
    for (const endpoint of refused) {
      const res = await s.api('/api/push/subscriptions', { method: 'POST', json: { endpoint, keys: sub.keys } });
      expect(res.status, endpoint).toBe(400);
      expect(res.body.error.code).toBe('invalid-message');
      expect(res.body.error.message).toContain('--push-allowed-origins');
      expect(res.body.error.message).toContain(new URL(endpoint).origin);
    }
    const withCredentials = service.origin.replace('http://', 'http://user:pw@') + '/push/x';
    expect((await s.api('/api/push/subscriptions', { method: 'POST', json: { endpoint: withCredentials, keys: sub.keys } })).body.error.message).toContain(
      'credentials',
    );
    expect(await s.server.push.store.count()).toBe(0);
  });

  it('PUSH-2: subscription bodies are validated (keys of the right length, on the curve), replaced by endpoint, and removed with DELETE', async () => {
    const s = await start();
    const sub = service.newSubscription();
    const bad = [
      { keys: sub.keys },
      { endpoint: sub.endpoint },
      { endpoint: sub.endpoint, keys: { p256dh: sub.keys.p256dh.slice(0, 40), auth: sub.keys.auth } },
      { endpoint: sub.endpoint, keys: { p256dh: sub.keys.p256dh, auth: Buffer.alloc(8).toString('base64url') } },
      { endpoint: sub.endpoint, keys: { p256dh: Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 1)]).toString('base64url'), auth: sub.keys.auth } },
      { endpoint: sub.endpoint, keys: { p256dh: sub.keys.p256dh + '==', auth: sub.keys.auth } },
      { endpoint: `${service.origin}/${'x'.repeat(3000)}`, keys: sub.keys },
    ];
    for (const json of bad) {
      const res = await s.api('/api/push/subscriptions', { method: 'POST', json });
      expect(res.status, JSON.stringify(json).slice(0, 80)).toBe(400);
      expect(res.body.error.message.length).toBeGreaterThan(5);
    }
    expect((await s.api('/api/push/subscriptions', { method: 'POST', headers: { 'content-type': 'application/json' } })).status).toBe(400);
    expect(await s.server.push.store.count()).toBe(0);

    await subscribe(s, sub);
    const other = service.newSubscription();
    const replaced = await s.api('/api/push/subscriptions', { method: 'POST', json: { endpoint: sub.endpoint, keys: other.keys } });
    expect(replaced.status).toBe(200);
    expect((await s.server.push.store.get(sub.endpoint))?.keys).toEqual(other.keys);

    expect((await s.api('/api/push/subscriptions', { method: 'DELETE', json: { endpoint: sub.endpoint } })).status).toBe(200);
    expect((await s.api('/api/push/subscriptions', { method: 'DELETE', json: { endpoint: sub.endpoint } })).status).toBe(404);
    expect(await s.server.push.store.count()).toBe(0);
  });

  it('PUSH-2: push routes need the owner: no credential gets 401, the agent token 403', async () => {
    const s = await start();
    const sub = service.newSubscription();
    expect((await s.api('/api/push/key', { token: null })).status).toBe(401);
    expect((await s.api('/api/push/key', { token: s.server.agentToken })).status).toBe(403);
    const res = await s.api('/api/push/subscriptions', { method: 'POST', json: { endpoint: sub.endpoint, keys: sub.keys }, token: s.server.agentToken });
    expect(res.status).toBe(403);
    expect(await s.server.push.store.count()).toBe(0);
  });

  it('PUSH-9: a subscription belongs to the caller device and ends with it; the owner token alone subscribes with no device', async () => {
    const s = await start({ deviceOf: (c) => c.req.header('x-test-device') });
    const phone = await subscribe(s, service.newSubscription(), { 'x-test-device': 'device-phone' });
    const laptop = await subscribe(s, service.newSubscription(), { 'x-test-device': 'device-laptop' });
    const owner = await subscribe(s);
    expect((await s.server.push.store.get(phone.endpoint))?.deviceId).toBe('device-phone');
    expect((await s.server.push.store.get(owner.endpoint))?.deviceId).toBeNull();
    expect(await s.server.push.removeForDevice('device-phone')).toBe(1);
    expect((await s.server.push.store.list()).map((x) => x.endpoint).sort()).toEqual([laptop.endpoint, owner.endpoint].sort());
  });

  it('PUSH-9: as served, a real device subscribes with its cookie, and ending the device removes its subscription', async () => {
    const s = await start();
    // The page opened with the owner token makes a device (its cookie, AUTH-3).
    const opened = await fetch(`${s.server.baseUrl}/?token=${encodeURIComponent(s.server.token!)}`, { redirect: 'manual' });
    const cookie = (opened.headers.get('set-cookie') ?? '').split(';')[0]!;
    expect(cookie).toMatch(/^gatehouse_\d+=/);
    const asDevice = { cookie, 'x-gatehouse-client': 'web' };
    const sub = service.newSubscription();
    const res = await s.api('/api/push/subscriptions', { method: 'POST', token: null, headers: asDevice, json: { endpoint: sub.endpoint, keys: sub.keys } });
    expect(res.status).toBe(201);
    const [device] = ((await s.api('/api/devices')).body as { devices: { id: string }[] }).devices;
    expect((await s.server.push.store.get(sub.endpoint))?.deviceId).toBe(device!.id);
    expect((await s.api(`/api/devices/${device!.id}`, { method: 'DELETE' })).status).toBe(200);
    expect(await s.server.push.store.get(sub.endpoint)).toBeUndefined();
  });
});

/** Resolves once the broker's queue status satisfies `condition` (awaits its change
 *  event, which follows a socket close asynchronously). */
function waitUntil(condition: () => boolean, s: Started): Promise<void> {
  return new Promise((resolve) => {
    if (condition()) return resolve();
    const off = s.server.host.onQueueChanged(() => {
      if (!condition()) return;
      off();
      resolve();
    });
  });
}
