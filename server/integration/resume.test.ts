/**
 * Resume by `since` + `epoch` (protocol-v1.md §3) against the real server process.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAndJoin, connectClient, startServerProcess, type Frame, type ServerProcess, type TestClient } from '../testing/index.ts';

let server: ServerProcess;
const clients: TestClient[] = [];

beforeAll(async () => {
  server = await startServerProcess();
});
afterAll(async () => {
  for (const c of clients) c.terminate();
  await server?.stop();
});

async function join(params: Record<string, string | number | undefined> = {}) {
  const joined = await connectAndJoin(server.wsUrl(params));
  clients.push(joined.client);
  return joined;
}

const create = (toolName = 'Bash') =>
  server.api('/api/permission-requests', { method: 'POST', json: { toolName, input: { n: Math.random() } } }).then((r) => r.body);

async function settle(client: TestClient, tag: string) {
  client.send({ type: 'ping', id: tag });
  await client.waitFor((f) => f.type === 'pong' && f.id === tag);
}

describe('resume', () => {
  it('WS-1: the first frame is welcome; a new client then gets a snapshot of every unresolved request', async () => {
    const a = await create('Read');
    const b = await create('Write');
    const { client, welcome, snapshot } = await join();
    expect(client.frames[0]).toBe(welcome);
    expect(welcome).toMatchObject({ type: 'welcome', protocol: 1, epoch: expect.any(String), resumed: false, clientId: expect.any(String) });
    expect(welcome.seq).toBeGreaterThanOrEqual(b.seq);
    expect(snapshot!.seq).toBe(welcome.seq);
    const ids = snapshot!.requests.map((r: Frame) => r.id);
    expect(ids).toEqual(expect.arrayContaining([a.id, b.id]));
    expect(ids.indexOf(a.id)).toBeLessThan(ids.indexOf(b.id));
    expect(snapshot!.requests.find((r: Frame) => r.id === a.id)).toMatchObject({ type: 'permission-request', seq: a.seq, toolName: 'Read' });
    expect(snapshot!.queue.pending).toBeGreaterThanOrEqual(2);
    for (const id of [a.id, b.id]) await server.api(`/api/permission-requests/${id}`, { method: 'DELETE' });
  });

  it('WS-2 WS-8: a client drops and resumes with since: exactly the missed events, in order, none twice, then live', async () => {
    const first = await join();
    const seen = await create();
    await first.client.waitFor((f) => f.type === 'permission-request' && f.id === seen.id);
    await settle(first.client, 'before-drop');
    const lastSeq = Math.max(...first.client.events().map((e) => e.seq));
    await first.client.close();

    const missed = [await create(), await create()];
    await server.api(`/api/permission-requests/${missed[0].id}/decision`, { method: 'POST', json: { decision: 'allow' } });
    await server.api(`/api/permission-requests/${seen.id}`, { method: 'DELETE' });

    const resumed = await join({ since: lastSeq, epoch: first.welcome.epoch });
    expect(resumed.welcome.resumed).toBe(true);
    expect(resumed.snapshot).toBeUndefined();
    const head = resumed.welcome.seq;
    await resumed.client.waitFor((f) => f.seq === head && f.type !== 'welcome');
    const live = await create();
    await resumed.client.waitFor((f) => f.type === 'permission-request' && f.id === live.id);
    const seqs = resumed.client.events().map((e) => e.seq);
    const expected = Array.from({ length: live.seq - lastSeq }, (_, i) => lastSeq + 1 + i);
    expect(seqs).toEqual(expected);
    const types = resumed.client.events().map((e) => `${e.type}:${e.id ?? e.requestId}`);
    expect(types).toContain(`permission-request:${missed[0].id}`);
    expect(types).toContain(`permission-resolved:${missed[0].id}`);
    expect(types).toContain(`permission-cancelled:${seen.id}`);
    expect(resumed.client.frames.some((f) => f.type === 'snapshot')).toBe(false);
    for (const r of [missed[1], live]) await server.api(`/api/permission-requests/${r.id}`, { method: 'DELETE' });
  });

  it('WS-3: another epoch, no epoch, too new a since, or a malformed since: resumed:false and a snapshot', async () => {
    const { welcome } = await join();
    const cases: Record<string, string | number | undefined>[] = [
      { since: 1, epoch: 'another-epoch' },
      { since: 1 },
      { since: welcome.seq + 5, epoch: welcome.epoch },
      { since: 'abc', epoch: welcome.epoch },
      { epoch: welcome.epoch },
    ];
    for (const params of cases) {
      const joined = await join(params);
      expect(joined.welcome.resumed, JSON.stringify(params)).toBe(false);
      expect(joined.snapshot, JSON.stringify(params)).toMatchObject({
        type: 'snapshot',
        seq: joined.welcome.seq,
        requests: expect.any(Array),
        queue: expect.any(Object),
      });
      expect(joined.client.frames[1]?.type).toBe('snapshot');
    }
    const same = await join({ since: welcome.seq, epoch: welcome.epoch });
    expect(same.welcome.resumed).toBe(true);
  });

  it('WS-15: the subprotocol gatehouse.v1 is selected when offered, and an upgrade at / is served the same', async () => {
    const offered = await connectClient(server.wsUrl(), { protocols: ['gatehouse.v1'] });
    clients.push(offered);
    expect(offered.ws.protocol).toBe('gatehouse.v1');
    expect((await offered.waitFor((f) => f.type === 'welcome')).protocol).toBe(1);
    const root = await connectClient(server.wsUrl({}, { path: '/' }));
    clients.push(root);
    expect(root.ws.protocol).toBe('');
    await root.waitFor((f) => f.type === 'snapshot');
  });
});

describe('resume from pruned history', () => {
  it('WS-3 STO-5: since older than the history kept: resumed:false and a snapshot', async () => {
    const small = await startServerProcess({ args: ['--history-events', '2', '--history-age-ms', '0', '--prune-interval-ms', '100'], env: { DEBUG: 'store' } });
    try {
      const first = await connectAndJoin(small.wsUrl());
      const epoch = first.welcome.epoch;
      first.client.terminate();
      const created = [];
      for (let i = 0; i < 5; i++) {
        created.push((await small.api('/api/permission-requests', { method: 'POST', json: { toolName: 'T', input: {} } })).body);
      }
      // The background prune logs how far the history now starts.
      await small.waitForStderr(/store pruned .*prunedThrough=3\b/);
      const joined = await connectAndJoin(small.wsUrl({ since: 1, epoch }));
      joined.client.terminate();
      expect(joined.welcome.resumed).toBe(false);
      expect(joined.snapshot!.requests.map((r: Frame) => r.id)).toEqual(created.map((c) => c.id));
      const recent = await connectAndJoin(small.wsUrl({ since: 4, epoch }));
      expect(recent.welcome.resumed).toBe(true);
      await recent.client.waitFor((f) => f.seq === 5 && f.type === 'permission-request');
      recent.client.terminate();
    } finally {
      await small.stop();
    }
  });
});
