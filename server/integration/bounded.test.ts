/**
 * Bounded resources against the real server process (contract-2 §3): unresolved requests
 * are bounded (429, nothing stored), a snapshot that does not fit one frame comes in
 * parts none larger than the frame limit, and the pending list is paged.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { connectAndJoin, startServerProcess, waitForWholeSnapshot, connectClient, type Frame, type ServerProcess, type TestClient } from '../testing/index.ts';

const servers: ServerProcess[] = [];
const clients: TestClient[] = [];
async function start(args: string[] = [], env: Record<string, string> = {}) {
  const server = await startServerProcess({ args, env });
  servers.push(server);
  return server;
}
afterEach(() => {
  for (const c of clients.splice(0)) c.terminate();
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

const MIB = 1 << 20;

async function createMany(server: ServerProcess, n: number, input: (i: number) => Record<string, unknown>, toolName = 'Bash') {
  const ids: string[] = [];
  for (let from = 0; from < n; from += 50) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(50, n - from) }, (_, k) =>
        server.api('/api/permission-requests', { method: 'POST', json: { toolName, input: input(from + k) } }),
      ),
    );
    for (const res of batch) {
      expect(res.status).toBe(201);
      ids.push(res.body.id);
    }
  }
  return ids;
}

describe('unresolved requests are bounded', () => {
  it('LIM-1: a create beyond --max-unresolved answers 429 too-many-requests and stores nothing; an Idempotency-Key retry still answers 200; a decision frees a place', async () => {
    const server = await start(['--max-unresolved', '3']);
    const keyed = await server.api('/api/permission-requests', {
      method: 'POST',
      json: { toolName: 'Bash', input: { command: 'ls' } },
      headers: { 'idempotency-key': 'k-1' },
    });
    expect(keyed.status).toBe(201);
    await createMany(server, 2, (i) => ({ command: `echo ${i}` }));
    const before = (await server.api('/readyz')).body.seq;
    const refused = await server.api('/api/permission-requests', { method: 'POST', json: { toolName: 'Bash', input: { command: 'echo 4' } } });
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('too-many-requests');
    expect(refused.body.error.message).toMatch(/too many unresolved requests \(3, at most 3\)/);
    expect((await server.api('/readyz')).body.seq).toBe(before);
    expect((await server.api('/api/permission-requests?status=pending')).body.requests).toHaveLength(3);
    const retried = await server.api('/api/permission-requests', {
      method: 'POST',
      json: { toolName: 'Bash', input: { command: 'ls' } },
      headers: { 'idempotency-key': 'k-1' },
    });
    expect(retried.status).toBe(200);
    expect(retried.body.id).toBe(keyed.body.id);
    await server.api(`/api/permission-requests/${keyed.body.id}/decision`, { method: 'POST', json: { decision: 'deny' } });
    expect((await server.api('/api/permission-requests', { method: 'POST', json: { toolName: 'Bash', input: { command: 'echo 4' } } })).status).toBe(201);
    const metrics = (await server.api('/metrics')).text;
    expect(metrics).toMatch(/gatehouse_request_create_refusals_total\{limit="count"\} 1/);
  });

  it('LIM-1: a create beyond --max-unresolved-bytes (input and context) answers 429; a smaller one still fits', async () => {
    const server = await start(['--max-unresolved-bytes', '100000']);
    const input = { content: 'x'.repeat(60_000) };
    expect((await server.api('/api/permission-requests', { method: 'POST', json: { toolName: 'Write', input } })).status).toBe(201);
    const refused = await server.api('/api/permission-requests', {
      method: 'POST',
      json: { toolName: 'Write', input: { content: 'y' }, context: { description: 'x'.repeat(9_000), big: 'z'.repeat(40_000) } },
    });
    expect(refused.status).toBe(429);
    expect(refused.body.error.message).toMatch(/bytes of input and context/);
    expect((await server.api('/api/permission-requests', { method: 'POST', json: { toolName: 'Write', input: { content: 'small' } } })).status).toBe(201);
  });

  it('LIM-1: the demo agent at the limit reports each refused ask as a denied tool call with the reason, and its turn ends', async () => {
    const server = await start(['--agent', 'demo', '--max-unresolved', '1']);
    await createMany(server, 1, () => ({ command: 'fills the only place' }));
    const { client } = await connectAndJoin(server.wsUrl());
    clients.push(client);
    const started = await server.api('/api/sessions', { method: 'POST', json: { prompt: 'hello' } });
    expect(started.status).toBe(201);
    const sessionId = started.body.session.id;
    await client.waitFor((f) => f.type === 'chat-message' && f.sessionId === sessionId && f.message.kind === 'turn-end', { timeoutMs: 15_000 });
    const results = client.events().filter((f) => f.type === 'chat-message' && f.sessionId === sessionId && f.message.kind === 'tool-result');
    expect(results).toHaveLength(4);
    for (const result of results) {
      expect(result.message.isError).toBe(true);
      expect(result.message.text).toMatch(/too many unresolved requests.*denied/);
    }
    expect(client.events().filter((f) => f.type === 'permission-request')).toHaveLength(0);
    expect((await server.api('/healthz')).status).toBe(200);
  });
});

describe('snapshot in parts', () => {
  it('LIM-2: many large unresolved requests: a new client gets every one exactly once across parts, every frame under the 1 MiB limit, then the live stream', async () => {
    const server = await start();
    // About 12 MiB of incompressible inputs: far more than one frame.
    const ids = await createMany(server, 60, () => ({ blob: randomBytes(150 << 10).toString('base64') }), 'Write');
    const [a, b] = await Promise.all([connectClient(server.wsUrl(), { perMessageDeflate: false }), connectClient(server.wsUrl(), { perMessageDeflate: true })]);
    clients.push(a, b);
    // Live traffic while the parts go out: one request created, one of the snapshot's cancelled.
    const [created, cancelled] = await Promise.all([
      server.api('/api/permission-requests', { method: 'POST', json: { toolName: 'Bash', input: { command: 'echo live' } } }),
      server.api(`/api/permission-requests/${ids[0]}?reason=agent-cancelled`, { method: 'DELETE' }),
    ]);
    expect(created.status).toBe(201);
    expect(cancelled.status).toBe(200);
    for (const client of [a, b]) {
      const welcome = await client.waitFor((f) => f.type === 'welcome');
      expect(welcome.resumed).toBe(false);
      const { snapshot, frames } = await waitForWholeSnapshot(client, { timeoutMs: 20_000 });
      expect(frames.length).toBeGreaterThan(1);
      expect(frames[0]).toMatchObject({ type: 'snapshot', more: true });
      expect(frames.slice(1).every((f) => f.type === 'snapshot-part')).toBe(true);
      expect(frames[frames.length - 1]?.more).toBe(false);
      // Exactly once each, oldest first, and the snapshot's seq is the head it was taken at.
      const got = snapshot.requests.map((r: Frame) => r.id);
      expect(new Set(got).size).toBe(got.length);
      const seqs = snapshot.requests.map((r: Frame) => r.seq);
      expect([...seqs].sort((x, y) => x - y)).toEqual(seqs);
      // Live events come after the last part: never a sequenced frame in between.
      const lastPart = client.frames.indexOf(frames[frames.length - 1]!);
      expect(client.frames.slice(0, lastPart).filter((f) => typeof f.seq === 'number' && f.type !== 'welcome' && f.type !== 'snapshot')).toEqual([]);
      // What the snapshot holds plus what followed is exactly the truth.
      const after = client.frames.slice(lastPart + 1);
      const newRequest = after.find((f) => f.type === 'permission-request' && f.id === created.body.id);
      const gotCreated = got.includes(created.body.id) || newRequest !== undefined;
      expect(gotCreated).toBe(true);
      if (got.includes(ids[0])) await client.waitFor((f) => f.type === 'permission-cancelled' && f.requestId === ids[0], { fromIndex: lastPart + 1 });
      const expected = new Set([...ids, created.body.id]);
      for (const id of got) expect(expected.has(id)).toBe(true);
      for (const id of ids.slice(1)) expect(got).toContain(id);
      // Every frame within the limit (its message size, decompressed for the deflate client).
      for (const size of client.frameBytes) expect(size).toBeLessThanOrEqual(MIB);
    }
    // Then live, both ways: a decision from the client, an ack, the next event.
    const clientMsgId = randomUUID();
    a.send({ type: 'permission-response', requestId: ids[1], decision: 'allow', clientMsgId });
    await a.waitFor((f) => f.type === 'ack' && f.ref === clientMsgId);
    await b.waitFor((f) => f.type === 'permission-resolved' && f.requestId === ids[1]);
    // The uncompressed client's frames, measured as they left: parts of the snapshot only (events are their own frames).
    const partSizes = a.frames.map((f, i) => [f, a.frameBytes[i]] as const).filter(([f]) => f.type === 'snapshot' || f.type === 'snapshot-part');
    expect(partSizes.reduce((sum, [, size]) => sum + size!, 0)).toBeGreaterThan(8 * MIB);
  }, 60_000);

  it('LIM-2: a request must fit one frame: input and context within the frame limit less a reserve, else 413; the largest that fits travels in frames within the limit', async () => {
    const server = await start();
    const input = { content: 'i'.repeat(200_000) };
    const tooBig = await server.api('/api/permission-requests', {
      method: 'POST',
      json: { toolName: 'Write', input, context: { notes: 'c'.repeat(MIB - 200_000 - 300) } },
    });
    expect(tooBig.status).toBe(413);
    expect(tooBig.body.error).toMatchObject({ code: 'payload-too-large' });
    expect(tooBig.body.error.message).toMatch(/fits one frame/);
    const fits = await server.api('/api/permission-requests', {
      method: 'POST',
      json: { toolName: 'Write', input, context: { notes: 'c'.repeat(MIB - 200_000 - 1_000) } },
    });
    expect(fits.status).toBe(201);
    await createMany(server, 3, () => ({ content: 'small'.repeat(400) }), 'Write'); // 2 KB each: no room left beside the big one
    const { client, snapshot, snapshotFrames } = await connectAndJoin(server.wsUrl(), { perMessageDeflate: false });
    clients.push(client);
    expect(snapshot!.requests.map((r: Frame) => r.id)).toContain(fits.body.id);
    expect(snapshotFrames!.length).toBe(2);
    for (const size of client.frameBytes) expect(size).toBeLessThanOrEqual(MIB);
  });

  it('LIM-2: 1,050 unresolved requests of ordinary size come in one snapshot frame, as in v1 (no more field); the pending list pages them by 1,000', async () => {
    const server = await start();
    const ids = await createMany(server, 1_050, (i) => ({ command: `git status # ${i}`, description: 'Show the working tree status' }));
    const { snapshot, snapshotFrames, client } = await connectAndJoin(server.wsUrl());
    clients.push(client);
    expect(snapshotFrames).toHaveLength(1);
    expect(snapshotFrames![0]).not.toHaveProperty('more');
    expect(snapshot!.requests.map((r: Frame) => r.id)).toEqual(ids);

    // LIM-4: the list, by pages.
    const first = await server.api('/api/permission-requests?status=pending');
    expect(first.status).toBe(200);
    expect(first.body.requests).toHaveLength(1_000);
    expect(first.body.next).toBe(ids[999]);
    const second = await server.api(`/api/permission-requests?status=pending&after=${first.body.next}`);
    expect(second.body.requests.map((r: Frame) => r.id)).toEqual(ids.slice(1_000));
    expect(second.body).not.toHaveProperty('next');
    const walked: string[] = [];
    let after: string | undefined;
    do {
      const page = await server.api(`/api/permission-requests?status=pending&limit=300${after ? `&after=${after}` : ''}`);
      expect(page.body.requests.length).toBeLessThanOrEqual(300);
      walked.push(...page.body.requests.map((r: Frame) => r.id));
      after = page.body.next;
    } while (after);
    expect(walked).toEqual(ids);
    for (const bad of ['limit=0', 'limit=1001', 'limit=x', 'after=no-such-id', 'after=']) {
      const res = await server.api(`/api/permission-requests?status=pending&${bad}`);
      expect(res.status, bad).toBe(400);
      expect(res.body.error.message, bad).toMatch(bad.startsWith('limit') ? /limit/ : /after/);
    }
    // Other statuses page the same way, oldest first.
    for (const id of ids.slice(0, 3)) await server.api(`/api/permission-requests/${id}/decision`, { method: 'POST', json: { decision: 'deny' } });
    const resolved = await server.api('/api/permission-requests?status=resolved&limit=2');
    expect(resolved.body.requests.map((r: Frame) => r.id)).toEqual(ids.slice(0, 2));
    const rest = await server.api(`/api/permission-requests?status=resolved&limit=2&after=${resolved.body.next}`);
    expect(rest.body.requests.map((r: Frame) => r.id)).toEqual([ids[2]]);
    expect(rest.body).not.toHaveProperty('next');
  }, 60_000);
});

describe('metric labels', () => {
  it('LIM-6: distinct ?reason= values leave the cancellation series bounded (known reasons, else other); 1,000 of them in server/metrics.test.ts', async () => {
    const server = await start();
    const ids = await createMany(server, 102, (i) => ({ command: `echo ${i}` }));
    for (let from = 0; from < 100; from += 50) {
      const batch = ids.slice(from, from + 50);
      await Promise.all(
        batch.map((id, k) =>
          server.api(`/api/permission-requests/${id}?reason=${encodeURIComponent(`attacker-${from + k}-${randomUUID()}`)}`, { method: 'DELETE' }),
        ),
      );
    }
    await server.api(`/api/permission-requests/${ids[100]}?reason=answered-in-terminal`, { method: 'DELETE' });
    await server.api(`/api/permission-requests/${ids[101]}`, { method: 'DELETE' });
    // The reason itself is kept where it belongs: on the request.
    expect((await server.api(`/api/permission-requests/${ids[0]}`)).body.message).toMatch(/attacker-0-/);
    const text = (await server.api('/metrics')).text;
    const series = text.split('\n').filter((line) => line.startsWith('gatehouse_cancellations_total{'));
    expect(series.sort()).toEqual([
      'gatehouse_cancellations_total{reason="agent-cancelled"} 1',
      'gatehouse_cancellations_total{reason="answered-in-terminal"} 1',
      'gatehouse_cancellations_total{reason="other"} 100',
    ]);
    expect(text).not.toMatch(/attacker/);
  }, 60_000);
});

describe('file modes', () => {
  it('LIM-8: the databases and their -wal/-shm files are 0600; a data directory looser than 0700 gets a warning on start, and the server still serves', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-modes-'));
    chmodSync(dir, 0o755);
    const server = await startServerProcess({ dataDir: dir, args: ['--agent', 'demo'] });
    try {
      expect(server.stderr()).toMatch(/data directory .* has mode 0755.*chmod 700/);
      // Writes to both databases, so that SQLite has made every companion file.
      const created = await server.api('/api/permission-requests', { method: 'POST', json: { toolName: 'Bash', input: { command: 'ls' } } });
      await server.api(`/api/permission-requests/${created.body.id}/decision`, { method: 'POST', json: { decision: 'deny' } });
      await server.api(`/api/audit?requestId=${created.body.id}`);
      for (const name of ['gatehouse.db', 'gatehouse.db-wal', 'gatehouse.db-shm', 'agents.db', 'agents.db-wal', 'agents.db-shm']) {
        const file = join(dir, name);
        expect(existsSync(file), name).toBe(true);
        expect((statSync(file).mode & 0o777).toString(8), name).toBe('600');
      }
    } finally {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('audit pruning', () => {
  it('LIM-7: the audit log is pruned with the history, on its bound (--history-events, --history-age-ms): here at the restart that narrows it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-audit-'));
    try {
      const first = await startServerProcess({ dataDir: dir });
      const ids = await createMany(first, 3, (i) => ({ command: `echo ${i}` }));
      for (const id of ids) await first.api(`/api/permission-requests/${id}/decision`, { method: 'POST', json: { decision: 'allow' } });
      expect((await first.api('/api/audit')).body.entries.map((e: Frame) => e.requestId).sort()).toEqual([...ids].sort());
      await first.stop();
      // The first prune runs before the ready line.
      const second = await startServerProcess({ dataDir: dir, args: ['--history-events', '1', '--history-age-ms', '0'], env: { DEBUG: 'store' } });
      try {
        expect(second.stderr()).toMatch(/audit pruned rows=2/);
        expect((await second.api('/api/audit')).body.entries.map((e: Frame) => e.requestId)).toEqual([ids[2]]);
      } finally {
        await second.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('HTTP rate', () => {
  it('LIM-9: there is no HTTP rate limit: a burst of 500 concurrent calls from loopback is all served, none 429 (docs/operations.md says so)', async () => {
    const server = await start(['--max-unresolved', '5']);
    const statuses = new Map<number, number>();
    for (let from = 0; from < 500; from += 250) {
      const batch = await Promise.all(Array.from({ length: 250 }, () => server.api('/api/permission-requests?status=pending&limit=1')));
      for (const res of batch) statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    }
    expect(Object.fromEntries(statuses)).toEqual({ 200: 500 });
  }, 60_000);
});
