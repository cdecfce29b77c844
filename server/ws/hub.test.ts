/**
 * The hub's paced snapshot against a socket double whose writes complete only when the
 * test says so (tldraw's TestSocketPair idea): which frame goes out when is then exact.
 */
import { describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { BrokerHost } from '../brokerHost.ts';
import { silentLogger } from '../log.ts';
import { SqliteEventStore } from '../store/sqliteStore.ts';
import { Hub } from './hub.ts';
import { SnapshotParts } from './snapshotParts.ts';

type Written = { text: string; done: (error?: Error | null) => void };

function fakeSocket() {
  const written: Written[] = [];
  const closes: number[] = [];
  const raw = {
    readyState: 1,
    bufferedAmount: 0,
    send(text: string, done: (error?: Error | null) => void) {
      written.push({ text, done });
    },
    on() {},
    ping() {},
    close(code: number) {
      closes.push(code);
      raw.readyState = 3;
    },
    terminate() {
      raw.readyState = 3;
    },
  };
  /** Complete the oldest write not yet completed. */
  let completed = 0;
  const flushOne = () => written[completed++]?.done(null);
  const frames = () => written.map((w) => JSON.parse(w.text) as Record<string, any>);
  return { raw: raw as unknown as WebSocket, written, closes, flushOne, frames, pending: () => written.length - completed };
}

function setup(options: { maxFrameBytes: number; maxBufferedBytes?: number }) {
  const store = new SqliteEventStore({ dataDir: ':memory:' });
  const host = new BrokerHost({ store, logger: silentLogger }, store.loadNow({ now: Date.now() }));
  const hub = new Hub({
    host,
    store,
    logger: silentLogger,
    maxBufferedBytes: options.maxBufferedBytes ?? 8 << 20,
    pingIntervalMs: 60_000,
    rateLimit: 2_000,
    maxFrameBytes: options.maxFrameBytes,
  });
  const create = (i: number, bytes = 3_000) => host.create({ toolName: 'Write', input: { i, content: 'x'.repeat(bytes) }, timeoutMs: 60_000, origin: 'http' });
  return { store, host, hub, create };
}

describe('paced snapshot', () => {
  it('LIM-2: parts go out one write at a time; live events wait in the backlog and follow the last part, then the queue status', async () => {
    const { host, hub, create } = setup({ maxFrameBytes: 10_000 });
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push(((await create(i)) as { id: string }).id);
    const socket = fakeSocket();
    hub.attach(socket.raw, { browser: true });
    // welcome + the first part at once, and the second part (two writes in flight at most).
    const sent = () => socket.frames().map((f) => f.type);
    expect(sent()).toEqual(['welcome', 'snapshot', 'snapshot-part']);
    // Live traffic now: it waits.
    const late = (await create(99, 10)) as { id: string };
    await host.cancel({ requestId: ids[0]!, reason: 'agent-cancelled', cancelledBy: 'test' });
    await create(100, 10); // pending is now 11, not the snapshot's 10: a status is due
    expect(sent()).toEqual(['welcome', 'snapshot', 'snapshot-part']);
    while (socket.pending() > 0) socket.flushOne();
    const frames = socket.frames();
    const types = frames.map((f) => f.type);
    const lastPart = types.lastIndexOf('snapshot-part');
    expect(frames[lastPart]?.more).toBe(false);
    expect(types.slice(lastPart + 1)).toEqual(['permission-request', 'permission-cancelled', 'permission-request', 'permission-queue-status']);
    expect(frames[frames.length - 1]).toMatchObject({ pending: 11 });
    expect(frames[lastPart + 1]?.id).toBe(late.id);
    const listed = frames.filter((f) => f.type === 'snapshot' || f.type === 'snapshot-part').flatMap((f) => f.requests.map((r: { id: string }) => r.id));
    expect(listed).toEqual(ids);
    for (const w of socket.written.slice(1, lastPart + 1)) expect(Buffer.byteLength(w.text)).toBeLessThanOrEqual(10_000);
    hub.dispose();
    await host.stop();
  });

  it('LIM-2: a backlog past --max-buffered-bytes while the parts are stuck closes the socket with 4000 (the client starts afresh)', async () => {
    const { host, hub, create } = setup({ maxFrameBytes: 10_000, maxBufferedBytes: 64 << 10 });
    for (let i = 0; i < 10; i++) await create(i);
    const socket = fakeSocket();
    hub.attach(socket.raw, { browser: true });
    for (let i = 0; i < 30 && socket.closes.length === 0; i++) await create(100 + i);
    expect(socket.closes).toEqual([4000]);
    hub.dispose();
    await host.stop();
  });

  it('LIM-2: a snapshot that fits is one v1 frame with no more field', async () => {
    const { host, hub, create } = setup({ maxFrameBytes: 1 << 20 });
    for (let i = 0; i < 10; i++) await create(i);
    const socket = fakeSocket();
    hub.attach(socket.raw, { browser: true });
    const frames = socket.frames();
    expect(frames.map((f) => f.type)).toEqual(['welcome', 'snapshot']);
    expect(frames[1]).not.toHaveProperty('more');
    expect(frames[1]?.requests).toHaveLength(10);
    hub.dispose();
    await host.stop();
  });
});

describe('SnapshotParts', () => {
  const event = (i: number, bytes: number) => ({
    type: 'permission-request' as const,
    seq: i,
    id: `r${i}`,
    toolName: 'Write',
    input: { content: 'é'.repeat(bytes / 2) },
    context: {},
    timestamp: 1,
    expiresAt: 2,
  });

  it('LIM-2: every frame is within the limit in UTF-8 bytes, each request is in exactly one frame, in order; a lone oversize request goes alone', () => {
    const requests = [event(1, 900), event(2, 300), event(3, 5_000), event(4, 100), event(5, 100)];
    const parts = new SnapshotParts(requests, 5, { pending: 5, processing: 0 }, 2_000);
    const frames: string[] = [];
    while (!parts.done) frames.push(parts.nextFrame());
    const parsed = frames.map((f) => JSON.parse(f));
    expect(parsed.flatMap((f) => f.requests.map((r: { id: string }) => r.id))).toEqual(['r1', 'r2', 'r3', 'r4', 'r5']);
    expect(parsed[0]).toMatchObject({ type: 'snapshot', seq: 5, queue: { pending: 5, processing: 0 }, more: true });
    expect(parsed.slice(1).map((f) => f.more)).toEqual([...parsed.slice(2).map(() => true), false]);
    expect(parts.oversize).toBe(1);
    for (const [i, frame] of frames.entries()) {
      const alone = parsed[i].requests.length === 1 && parsed[i].requests[0].id === 'r3';
      if (!alone) expect(Buffer.byteLength(frame)).toBeLessThanOrEqual(2_000);
    }
    // Nothing left over: an empty snapshot is one frame too.
    const empty = new SnapshotParts([], 0, { pending: 0, processing: 0 }, 2_000);
    expect(JSON.parse(empty.nextFrame())).toEqual({ type: 'snapshot', seq: 0, requests: [], queue: { pending: 0, processing: 0 } });
    expect(empty.done).toBe(true);
  });
});
