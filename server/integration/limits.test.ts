/**
 * Bad input and misbehaving clients (protocol-v1.md §2-4): every one gets a clear error
 * or the contract's close code, and the server keeps serving.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAndJoin, startServerProcess, type ServerProcess, type TestClient } from '../testing/index.ts';

let server: ServerProcess;
const clients: TestClient[] = [];
beforeAll(async () => {
  server = await startServerProcess();
});
afterAll(async () => {
  for (const c of clients) c.terminate();
  await server?.stop();
});

async function join(params: Record<string, string | number | undefined> = {}, options = {}) {
  const joined = await connectAndJoin(server.wsUrl(params), options);
  clients.push(joined.client);
  return joined;
}

describe('WebSocket input', () => {
  it('WS-10: frames that are not JSON or do not fit a schema get invalid-message naming the problem; the connection still answers a ping', async () => {
    const { client } = await join();
    const cases: Array<[string | Buffer, RegExp]> = [
      ['{not json', /JSON/],
      ['42', /\(root\)|type/],
      [JSON.stringify({ type: 'nope' }), /type/],
      [JSON.stringify({ type: 'permission-response', requestId: 'x' }), /decision/],
      [JSON.stringify({ type: 'permission-response', requestId: 'x', decision: 'maybe' }), /decision/],
      [JSON.stringify({ type: 'ack', seq: -1 }), /seq/],
      [JSON.stringify({ type: 'ack', seq: 1e9 }), /seq/],
      [Buffer.from([1, 2, 3]), /binary/],
    ];
    let from = client.frames.length;
    for (const [frame, pattern] of cases) {
      client.sendRaw(frame);
      const error = await client.waitFor((f) => f.type === 'error', { fromIndex: from });
      expect(error.code, String(frame)).toBe('invalid-message');
      expect(error.message, String(frame)).toMatch(pattern);
      from = client.frames.indexOf(error) + 1;
    }
    client.send({ type: 'permission-response', requestId: 'x', decision: 'maybe', clientMsgId: 'bad-1' });
    expect((await client.waitFor((f) => f.type === 'error' && f.ref === 'bad-1')).code).toBe('invalid-message');
    client.send({ type: 'ping', id: 7 });
    expect(await client.waitFor((f) => f.type === 'pong')).toMatchObject({ type: 'pong', id: 7 });
    expect(client.ws.readyState).toBe(client.ws.OPEN);
  });

  it('WS-11: a frame over 1 MiB closes the connection with 1009; the server keeps serving', async () => {
    const { client } = await join();
    client.sendRaw('x'.repeat((1 << 20) + 10));
    expect((await client.closed).code).toBe(1009);
    const { welcome } = await join();
    expect(welcome.type).toBe('welcome');
  });

  it('WS-14: a burst within 1,000 frames is served in full; a flood gets rate-limited, then 1008', async () => {
    const { client } = await join();
    for (let i = 0; i < 1_000; i++) client.send({ type: 'ping', id: i });
    await client.waitForCount((f) => f.type === 'pong', 1_000);
    expect(client.frames.some((f) => f.type === 'error')).toBe(false);

    const flood = (await join()).client;
    // Batches that land together, so the server's bucket sees a flood whatever the load.
    for (let batch = 0; batch < 100 && flood.ws.readyState === flood.ws.OPEN; batch++) {
      for (let i = 0; i < 2_000; i++) flood.send({ type: 'ping' });
      await new Promise((r) => setImmediate(r));
    }
    const limited = await flood.waitFor((f) => f.type === 'error' && f.code === 'rate-limited');
    expect(limited.message).toMatch(/too many/);
    expect((await flood.closed).code).toBe(1008);
  });

  it('WS-16: permessage-deflate is negotiated for a client that offers it, and large frames arrive intact', async () => {
    const { client } = await join({}, { perMessageDeflate: true });
    expect(client.ws.extensions).toContain('permessage-deflate');
    const input = { text: 'the same words again and again '.repeat(2_000) };
    const created = await server.api('/api/permission-requests', { method: 'POST', json: { toolName: 'Write', input } });
    const event = await client.waitFor((f) => f.type === 'permission-request' && f.id === created.body.id);
    expect(event.input).toEqual(input);
    const plain = (await join({}, { perMessageDeflate: false })).client;
    expect(plain.ws.extensions).toBe('');
    await server.api(`/api/permission-requests/${created.body.id}`, { method: 'DELETE' });
  });
});

describe('slow consumers', () => {
  it('WS-12: a client that stops reading is closed with 4000, and resumes without loss', async () => {
    // Its own server: a small bound, and no other client to share the load.
    const slow = await startServerProcess({ args: ['--max-buffered-bytes', String(256 << 10)], env: { DEBUG: 'websocket' } });
    try {
      const first = await connectAndJoin(slow.wsUrl(), { perMessageDeflate: false });
      const { client, welcome } = first;
      const socket = (client.ws as unknown as { _socket: import('node:net').Socket })._socket;
      socket.pause();
      const created: Array<{ id: string; seq: number }> = [];
      const closedLine = /slow consumer closed client=(\S+)/;
      let dropped = false;
      slow.waitForStderr(closedLine, 30_000).then(
        () => (dropped = true),
        () => {},
      );
      // Random (incompressible) inputs until the server gives up on this client.
      for (let i = 0; i < 300 && !dropped; i++) {
        const input = { blob: randomBytes(150 << 10).toString('base64') };
        created.push((await slow.api('/api/permission-requests', { method: 'POST', json: { toolName: 'Write', input } })).body);
      }
      await slow.waitForStderr(closedLine);
      expect(slow.stderr().match(closedLine)![1]).toBe(welcome.clientId);
      // Created after the drop: must come with the resume too.
      created.push((await slow.api('/api/permission-requests', { method: 'POST', json: { toolName: 'Read', input: {} } })).body);
      socket.resume();
      const closed = await client.closed;
      expect(closed.code).toBe(4000);
      const held = client.events().map((e) => e.seq);
      const lastHeld = held.length ? Math.max(...held) : welcome.seq;
      expect(held.length).toBeLessThan(created.length);

      const again = await connectAndJoin(slow.wsUrl({ since: lastHeld, epoch: welcome.epoch }), { perMessageDeflate: false });
      expect(again.welcome.resumed).toBe(true);
      const last = created[created.length - 1];
      await again.client.waitFor((f) => f.type === 'permission-request' && f.id === last!.id, { timeoutMs: 15_000 });
      const all = [...held, ...again.client.events().map((e) => e.seq)];
      const expected = Array.from({ length: last!.seq - welcome.seq }, (_, i) => welcome.seq + 1 + i);
      expect(all).toEqual(expected);
      again.client.terminate();
    } finally {
      await slow.stop();
    }
  }, 60_000);
});

describe('HTTP input', () => {
  const post = (body: string | undefined, headers: Record<string, string> = {}) =>
    server.api('/api/permission-requests', { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });

  it('HTTP-7: bad bodies get 400 invalid-message naming the field; every error body has the same shape', async () => {
    const cases: Array<[string | undefined, RegExp]> = [
      [undefined, /body/],
      ['{nope', /JSON/],
      [JSON.stringify({ input: {} }), /toolName/],
      [JSON.stringify({ toolName: 'Bash', input: 'ls' }), /input/],
      [JSON.stringify({ toolName: 'Bash', input: {}, timeoutMs: 5 }), /timeoutMs/],
      [JSON.stringify({ toolName: 'Bash', input: {}, timeoutMs: 86_400_001 }), /timeoutMs/],
      [JSON.stringify({ toolName: 'Bash', input: { big: 'x'.repeat(300 << 10) } }), /input/],
    ];
    for (const [body, pattern] of cases) {
      const res = await post(body);
      expect(res.status, String(body).slice(0, 80)).toBe(400);
      expect(res.body.error.code).toBe('invalid-message');
      expect(res.body.error.message).toMatch(pattern);
    }
    const badKey = await post(JSON.stringify({ toolName: 'Bash', input: {} }), { 'Idempotency-Key': 'has space' });
    expect(badKey.status).toBe(400);
    expect(badKey.body.error.message).toMatch(/Idempotency-Key/);
    const decision = await server.api('/api/permission-requests/x/decision', { method: 'POST', json: { decision: 'perhaps' } });
    expect(decision.status).toBe(400);
    expect(decision.body.error.message).toMatch(/decision/);
    const wait = await server.api('/api/permission-requests/x?wait=soon');
    expect(wait.status).toBe(400);
    expect(wait.body.error.message).toMatch(/wait/);
    const status = await server.api('/api/permission-requests?status=done');
    expect(status.status).toBe(400);
    expect(status.body.error.message).toMatch(/status/);
  });

  it('HTTP-7: a body over 1 MiB gets 413; unknown ids 404 unknown-request; unknown routes 404 not-found', async () => {
    const big = await post(JSON.stringify({ toolName: 'Bash', input: { big: 'x'.repeat(1 << 20) } }));
    expect(big.status).toBe(413);
    expect(big.body.error.code).toBe('payload-too-large');
    const unknown = await server.api('/api/permission-requests/does-not-exist');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('unknown-request');
    const del = await server.api('/api/permission-requests/does-not-exist', { method: 'DELETE' });
    expect(del.status).toBe(404);
    expect(del.body.error.code).toBe('unknown-request');
    const route = await server.api('/api/nothing-here');
    expect(route.status).toBe(404);
    expect(route.body.error.code).toBe('not-found');
  });

  it('HTTP-3: wait is capped at 60 s and answers at once for a finished request', async () => {
    const created = (await server.api('/api/permission-requests', { method: 'POST', json: { toolName: 'Bash', input: {}, timeoutMs: 100 } })).body;
    const timedOut = await server.api(`/api/permission-requests/${created.id}?wait=5`);
    expect(timedOut.body.status).toBe('timedOut');
    const started = Date.now();
    const again = await server.api(`/api/permission-requests/${created.id}?wait=600`);
    expect(again.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(2_000);
    const other = (await server.api('/api/permission-requests', { method: 'POST', json: { toolName: 'Bash', input: {} } })).body;
    const t0 = Date.now();
    const short = await server.api(`/api/permission-requests/${other.id}?wait=0.3`);
    expect(short.body.status).toBe('pending');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    await server.api(`/api/permission-requests/${other.id}`, { method: 'DELETE' });
  });
});
