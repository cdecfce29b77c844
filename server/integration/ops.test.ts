/**
 * Operations (protocol-v1.md §1, issue 3): metrics, debug logging, the inspector flag, the
 * fault switch, flag validation.
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAndJoin, runServeExpectingExit, startServerProcess, type ServerProcess } from '../testing/index.ts';

function metric(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(name + ' ') || (l.startsWith(name + '{') && l.slice(0, l.lastIndexOf(' ')) === name));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

let server: ServerProcess;
beforeAll(async () => {
  server = await startServerProcess({ env: { DEBUG: 'websocket,permissions' } });
});
afterAll(async () => {
  await server?.stop();
});

describe('metrics', () => {
  it('OPS-5: /metrics counters move when their events happen', async () => {
    const before = (await server.api('/metrics')).text;
    const { client, welcome } = await connectAndJoin(server.wsUrl());
    const created = (await server.api('/api/permission-requests', { method: 'POST', json: { toolName: 'Bash', input: {} } })).body;
    await client.waitFor((f) => f.id === created.id);
    client.send({ type: 'permission-response', requestId: created.id, decision: 'allow', clientMsgId: randomUUID() });
    await client.waitFor((f) => f.type === 'ack');
    const timed = (await server.api('/api/permission-requests', { method: 'POST', json: { toolName: 'Bash', input: {}, timeoutMs: 100 } })).body;
    await client.waitFor((f) => f.type === 'permission-timeout' && f.requestId === timed.id);
    client.sendRaw('garbage');
    await client.waitFor((f) => f.type === 'error');
    client.terminate();
    const resumed = await connectAndJoin(server.wsUrl({ since: welcome.seq, epoch: welcome.epoch }));
    resumed.client.terminate();
    const other = await connectAndJoin(server.wsUrl({ since: 0, epoch: 'old' }));
    other.client.terminate();

    const after = (await server.api('/metrics')).text;
    const diff = (name: string) => metric(after, name) - metric(before, name);
    expect(diff('gatehouse_requests_created_total{origin="http"}')).toBe(2);
    expect(diff('gatehouse_decisions_total{decision="allow",via="ws"}')).toBe(1);
    expect(diff('gatehouse_timeouts_total')).toBe(1);
    expect(diff('gatehouse_ws_resumes_total')).toBe(1);
    expect(diff('gatehouse_ws_snapshot_fallbacks_total{reason="other-epoch"}')).toBe(1);
    expect(diff('gatehouse_ws_invalid_messages_total')).toBe(1);
    expect(diff('gatehouse_ws_connections_total')).toBe(3);
    expect(diff('gatehouse_events_total{type="permission-request"}')).toBe(2);
    expect(metric(after, 'gatehouse_persist_seconds_count')).toBeGreaterThan(metric(before, 'gatehouse_persist_seconds_count'));
    expect(metric(after, 'gatehouse_requests{status="timedOut"}')).toBeGreaterThanOrEqual(1);
    expect(after).toMatch(/^gatehouse_ws_connections \d+$/m);
    expect(after).toMatch(/^gatehouse_ws_send_failures_total \d+$/m);
  });

  it('OPS-8, HTTP-9: /readyz says ready with the epoch and head; /healthz is ok with no token; /metrics is Prometheus text', async () => {
    const ready = await server.api('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ status: 'ready', epoch: expect.any(String), seq: expect.any(Number) });
    expect((await server.api('/healthz', { token: null })).body).toEqual({ status: 'ok' });
    const metrics = await fetch(`${server.baseUrl}/metrics`, { headers: { authorization: `Bearer ${server.token}` } });
    expect(metrics.headers.get('content-type')).toMatch(/text\/plain/);
    expect(await metrics.text()).toMatch(/^# HELP gatehouse_/m);
  });

  it('OPS-4, CORE-3: DEBUG=websocket,permissions logs one line per connect, send, ack, decision and timeout', async () => {
    const { client, welcome } = await connectAndJoin(server.wsUrl());
    const created = (await server.api('/api/permission-requests', { method: 'POST', json: { toolName: 'Bash', input: {}, timeoutMs: 100 } })).body;
    await client.waitFor((f) => f.type === 'permission-timeout' && f.requestId === created.id);
    client.send({ type: 'ack', seq: created.seq });
    client.send({ type: 'ping', id: 'x' });
    await client.waitFor((f) => f.type === 'pong');
    // Its own decision: the log line must not depend on another test's traffic.
    const decided = (await server.api('/api/permission-requests', { method: 'POST', json: { toolName: 'Bash', input: {} } })).body;
    await client.waitFor((f) => f.id === decided.id);
    client.send({ type: 'permission-response', requestId: decided.id, decision: 'allow', clientMsgId: randomUUID() });
    await client.waitFor((f) => f.type === 'ack' && f.requestId === decided.id);
    client.terminate();
    await server.waitForStderr(`websocket connect client=${welcome.clientId}`);
    await server.waitForStderr(`websocket send type=permission-request seq=${created.seq}`);
    await server.waitForStderr(`permissions timeout requestId=${created.id}`);
    await server.waitForStderr(`websocket ack client=${welcome.clientId} seq=${created.seq}`);
    await server.waitForStderr(`permissions decision requestId=${decided.id} decision=allow`);
    await server.waitForStderr(`websocket disconnect client=${welcome.clientId}`);
  });
});

describe('inspector', () => {
  it('OPS-6: --inspect delivers actor events to a local receiver', async () => {
    const receiver = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await once(receiver, 'listening');
    const messages: string[] = [];
    const gotEvent = new Promise<void>((resolve) => {
      receiver.on('connection', (socket) => {
        socket.on('message', (data) => {
          messages.push(data.toString());
          if (messages.some((m) => m.includes('request.create'))) resolve();
        });
      });
    });
    const port = (receiver.address() as AddressInfo).port;
    const inspected = await startServerProcess({ args: ['--inspect', `ws://127.0.0.1:${port}`] });
    try {
      await inspected.api('/api/permission-requests', { method: 'POST', json: { toolName: 'Bash', input: { command: 'inspect-me' } } });
      await Promise.race([gotEvent, new Promise((_, reject) => setTimeout(() => reject(new Error(`no actor event; got ${messages.length} messages`)), 8_000))]);
      expect(messages.some((m) => m.includes('@xstate.'))).toBe(true);
      expect(inspected.stderr()).not.toContain(inspected.token!);
    } finally {
      await inspected.stop();
      for (const client of receiver.clients) client.terminate();
      receiver.close();
    }
  });
});

describe('fault switch', () => {
  it('OPS-7: GATEHOUSE_FAULT=after-persist-before-send stops the process there, and the persisted request survives', async () => {
    const faulty = await startServerProcess({ env: { GATEHOUSE_FAULT: 'after-persist-before-send', GATEHOUSE_TOKEN: 'fault-token-0123456789abcdef' } });
    const answer = faulty.api('/api/permission-requests', { method: 'POST', json: { toolName: 'Bash', input: {} } }).catch((e) => e);
    const exit = await faulty.exited;
    expect(exit.signal).toBe('SIGKILL');
    expect(faulty.stderr()).toContain('GATEHOUSE_FAULT_REACHED after-persist-before-send');
    expect(await answer).toBeInstanceOf(Error);
    const again = await startServerProcess({ dataDir: faulty.dataDir, env: { GATEHOUSE_TOKEN: 'fault-token-0123456789abcdef' } });
    try {
      const pending = (await again.api('/api/permission-requests?status=pending')).body.requests;
      expect(pending).toHaveLength(1);
    } finally {
      await again.stop();
      await faulty.stop();
    }
  });
});

describe('fault switch: decision lost before its commit', () => {
  it('OPS-7 STO-7: killed while storing a decision, nothing was acknowledged; the client sends it again after the restart and it counts once', async () => {
    const env = { GATEHOUSE_FAULT: 'during-decision-store', GATEHOUSE_TOKEN: 'fault-token-0123456789abcdef' };
    const faulty = await startServerProcess({ env });
    const { client, welcome } = await connectAndJoin(faulty.wsUrl());
    const created = (await faulty.api('/api/permission-requests', { method: 'POST', json: { toolName: 'Bash', input: {} } })).body;
    await client.waitFor((f) => f.id === created.id);
    client.send({ type: 'permission-response', requestId: created.id, decision: 'allow', clientMsgId: 'retry-me' });
    expect((await faulty.exited).signal).toBe('SIGKILL');
    expect(faulty.stderr()).toContain('GATEHOUSE_FAULT_REACHED during-decision-store');
    expect(client.frames.some((f) => f.type === 'ack')).toBe(false);
    client.terminate();

    const again = await startServerProcess({ dataDir: faulty.dataDir, env: { GATEHOUSE_TOKEN: env.GATEHOUSE_TOKEN } });
    try {
      expect((await again.api(`/api/permission-requests/${created.id}`)).body.status).toBe('pending');
      const resumed = await connectAndJoin(again.wsUrl({ since: welcome.seq, epoch: welcome.epoch }));
      resumed.client.send({ type: 'permission-response', requestId: created.id, decision: 'allow', clientMsgId: 'retry-me' });
      expect(await resumed.client.waitFor((f) => f.type === 'ack' && f.ref === 'retry-me')).toMatchObject({ status: 'accepted' });
      resumed.client.send({ type: 'permission-response', requestId: created.id, decision: 'allow', clientMsgId: 'retry-me' });
      await resumed.client.waitForCount((f) => f.type === 'ack' && f.ref === 'retry-me', 2);
      resumed.client.send({ type: 'ping', id: 'sync' });
      await resumed.client.waitFor((f) => f.type === 'pong');
      expect(resumed.client.frames.filter((f) => f.type === 'permission-resolved')).toHaveLength(1);
      resumed.client.terminate();
    } finally {
      await again.stop();
      await faulty.stop();
    }
  });
});

describe('flags', () => {
  it('OPS-1: bad flags and environment values stop with a clear message and exit code 2', async () => {
    const [port, timeout, unknown] = await Promise.all([
      runServeExpectingExit(['--port', 'eighty']),
      runServeExpectingExit([], { GATEHOUSE_REQUEST_TIMEOUT_MS: '5' }),
      runServeExpectingExit(['--bogus']),
    ]);
    expect(port.code).toBe(2);
    expect(port.stderr).toMatch(/--port: expected an integer/);
    expect(timeout.code).toBe(2);
    expect(timeout.stderr).toMatch(/GATEHOUSE_REQUEST_TIMEOUT_MS/);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/bogus/);
  });

  it('OPS-2: the ready line names the real port', async () => {
    expect(server.stdout().trim()).toBe(`Gatehouse listening on http://127.0.0.1:${server.port}/?token=${server.token}`);
    expect(server.port).toBeGreaterThan(0);
  });
});
