/**
 * The in-process harness itself, and the focused regressions of what the whole-loop
 * fuzz found (SPEC.md, "Whole loop (CORE-H)").
 */
import { afterEach, describe, expect, it } from 'vitest';
import { TIMING } from '../../machines/connection.machine.ts';
import { Harness } from './harness.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.dispose();
  h = undefined;
});

const bash = (command: string, timeoutMs = 60_000) => ({ toolName: 'Bash', input: { command }, timeoutMs });

function browser(harness: Harness, index: number) {
  const found = harness.browsers[index];
  if (!found) throw new Error(`no browser ${index}`);
  return found;
}

describe('the in-process harness', () => {
  it('CORE-H8: nothing moves until the test delivers it; then the real machine holds it', async () => {
    h = await Harness.create({ browsers: 2 });
    await h.flushUntilQuiet();
    const b0 = browser(h, 0);
    const b1 = browser(h, 1);
    expect(b0.isLive && b1.isLive).toBe(true);
    const call = h.create(bash('ls'));
    await h.settle();
    const created = await call;
    expect(created.status).toBe(201);
    // Committed and answered, but still on the wire: no screen has it yet.
    expect(b0.snapshot.context.queue.order).toEqual([]);
    expect(b0.link?.toClient.map((item) => (item.kind === 'frame' ? JSON.parse(item.text).type : 'close'))).toEqual([
      'permission-request',
      'permission-queue-status',
    ]);
    expect(h.deliver(b0, 'toClient')).toBe(true);
    expect(b0.snapshot.context.queue.order).toEqual([created.body.id]);
    expect(b1.snapshot.context.queue.order).toEqual([]);
    await h.flushUntilQuiet();
    expect(b1.snapshot.context.queue.order).toEqual([created.body.id]);
  });

  it('CORE-H3: kill -9 loses nothing acknowledged; the browsers resume with since and see it once', async () => {
    h = await Harness.create({ browsers: 2 });
    await h.flushUntilQuiet();
    const first = await (async () => {
      const call = h!.create(bash('one'));
      await h!.flushUntilQuiet();
      return call;
    })();
    expect(first.status).toBe(201);
    // A second create still in the host's tick when the process dies: never answered.
    const lost = h.create(bash('two'));
    await Promise.resolve();
    await h.stopServer('crash');
    // What the dead process wrote still arrives, then 1006: the browsers retry later.
    await h.flushUntilQuiet();
    for (const b of h.browsers) expect(b.snapshot.matches('reconnecting')).toBe(true);
    await h.startServer();
    for (const b of h.browsers) b.actor.send({ type: 'connection.retry' });
    await h.flushUntilQuiet();
    const log = await h.server!.log();
    expect(log.filter((e) => e.type === 'permission-request').map((e) => (e as { id: string }).id)).toContain(first.body.id);
    const answered = await Promise.race([lost.then(() => true), Promise.resolve(false)]);
    if (answered) expect((await lost).status).toBe(0);
    for (const b of h.browsers) {
      expect(b.isLive).toBe(true);
      expect(b.snapshot.context.queue.order).toContain(first.body.id);
      expect(b.stream.filter((r) => r.kind === 'event').map((r) => (r.kind === 'event' ? r.event.seq : 0))).toEqual([1]);
    }
  });

  it('CORE-H7: a browser that resumes with nothing new still counts as holding what it holds (processing, Web Push isHeld)', async () => {
    h = await Harness.create({ browsers: 2 });
    await h.flushUntilQuiet();
    const call = h.create(bash('ls'));
    await h.flushUntilQuiet();
    expect((await call).status).toBe(201);
    h.advance(TIMING.ackDelayMs);
    await h.flushUntilQuiet();
    expect(h.server!.queueStatus()).toEqual({ pending: 1, processing: 1 });
    // SIGTERM and back: both browsers resume at the head, with no new event to ack.
    await h.restart('graceful');
    await h.flushUntilQuiet();
    for (const b of h.browsers) b.actor.send({ type: 'connection.retry' });
    await h.flushUntilQuiet();
    h.advance(TIMING.ackDelayMs);
    await h.flushUntilQuiet();
    for (const b of h.browsers) expect(b.isLive && b.snapshot.context.queue.order.length === 1).toBe(true);
    expect(h.server!.queueStatus()).toEqual({ pending: 1, processing: 1 });
    // And the screens are told so.
    for (const b of h.browsers) expect(b.snapshot.context.queue.counts).toEqual({ pending: 1, processing: 1 });
  });
});
