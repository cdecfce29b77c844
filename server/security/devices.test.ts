/**
 * Devices in-process: a device ended while its call's body is still arriving gets 401
 * and changes nothing; the body limit holds for devices too.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createApp } from '../app.ts';
import { BrokerHost } from '../brokerHost.ts';
import { testConfig } from '../config.ts';
import { silentLogger } from '../log.ts';
import { createMetrics } from '../metrics.ts';
import { SqliteDeviceStore } from '../store/deviceStore.ts';
import { SqliteEventStore } from '../store/sqliteStore.ts';
import { buildAllowList } from './allowList.ts';
import { sessionCookieName } from './token.ts';

const OWNER = 'owner-token-0123456789abcdef';

const cleanup: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0)) await fn();
});

async function build() {
  const store = new SqliteEventStore({ dataDir: ':memory:' });
  const devices = new SqliteDeviceStore({ dataDir: ':memory:' });
  const host = new BrokerHost({ store, logger: silentLogger }, store.loadNow({ now: Date.now() }));
  cleanup.push(async () => {
    await host.stop();
    void devices.close();
  });
  const allow = buildAllowList({ bindHost: '127.0.0.1', port: 3000, extraOrigins: [], extraHosts: [] });
  const app = createApp({
    config: testConfig({ maxFrameBytes: 1024 }),
    store,
    host,
    security: { auth: true, token: OWNER, devices, port: () => 3000, allowList: () => allow },
    logger: silentLogger,
    metrics: createMetrics(),
  });
  const request = (method: string, path: string, init: { headers?: Record<string, string>; body?: NonNullable<RequestInit['body']> } = {}) =>
    app.request(`http://127.0.0.1:3000${path}`, {
      method,
      headers: { host: '127.0.0.1:3000', 'content-type': 'application/json', ...init.headers },
      ...(init.body !== undefined ? { body: init.body, duplex: 'half' } : {}),
    } as RequestInit);
  const { device, secret } = await devices.create('Chrome on Linux');
  const asDevice = { cookie: `${sessionCookieName({ port: 3000 })}=${secret}`, 'x-gatehouse-client': 'web' };
  const asOwner = { authorization: `Bearer ${OWNER}` };
  return { request, devices, device, asDevice, asOwner };
}

/** A body whose first read is reported, and whose rest comes when the test says. */
function slowBody(first: string) {
  let started!: () => void;
  const reading = new Promise<void>((resolve) => (started = resolve));
  let finish!: (rest: string) => void;
  const rest = new Promise<string>((resolve) => (finish = resolve));
  let sentFirst = false;
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (!sentFirst) {
        sentFirst = true;
        controller.enqueue(new TextEncoder().encode(first));
        started();
        return;
      }
      controller.enqueue(new TextEncoder().encode(await rest));
      controller.close();
    },
  });
  return { stream, reading, finish };
}

describe('devices in-process', () => {
  it('AUTH-5: a device ended while its decision body is still arriving gets 401, and the request stays pending', async () => {
    const { request, devices, device, asDevice, asOwner } = await build();
    const created = await request('POST', '/api/permission-requests', {
      headers: asOwner,
      body: JSON.stringify({ toolName: 'Bash', input: { command: 'ls' } }),
    });
    const { id } = (await created.json()) as { id: string };
    const body = slowBody('{"decision":');
    const pending = request('POST', `/api/permission-requests/${id}/decision`, { headers: asDevice, body: body.stream });
    await body.reading; // the guard let it in: headers checked, body being read
    expect(await devices.revoke(device.id)).toBe(true);
    body.finish('"allow"}');
    const res = await pending;
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
    const view = (await (await request('GET', `/api/permission-requests/${id}`, { headers: asOwner })).json()) as { status: string };
    expect(view.status).toBe('pending');
  });

  it('AUTH-5: a device that stays gets its slow decision through; the body limit holds for devices', async () => {
    const { request, asDevice, asOwner } = await build();
    const created = await request('POST', '/api/permission-requests', {
      headers: asOwner,
      body: JSON.stringify({ toolName: 'Bash', input: { command: 'ls' } }),
    });
    const { id } = (await created.json()) as { id: string };
    const body = slowBody('{"decision":');
    const pending = request('POST', `/api/permission-requests/${id}/decision`, { headers: asDevice, body: body.stream });
    await body.reading;
    body.finish('"deny"}');
    const res = await pending;
    expect(res.status).toBe(200);
    expect(((await res.json()) as { decision: string }).decision).toBe('deny');
    // Streamed (no length) and too large: 413 as for anyone.
    const big = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(`{"x":"${'a'.repeat(4096)}"}`));
        controller.close();
      },
    });
    expect((await request('POST', '/api/permission-requests', { headers: asDevice, body: big })).status).toBe(413);
  });
});
