/**
 * "Held?" queries on the bus (natsBus.ts; SPEC.md TEAM-S8): answered only by an
 * instance whose screen holds the request; silence is "nobody"; a query that is not
 * JSON, names no request, or is of another epoch is dropped, counted and not answered.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connectBus, heldSubject } from './natsBus.ts';
import { requireNats, TEST_NATS_URL } from './testing/nats.ts';

const reachable = await requireNats('the held query tests');

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe.skipIf(!reachable)('TEAM-S8: held queries on the bus', () => {
  it('TEAM-S8: an instance answers for the requests its screens hold and is silent for the rest; malformed queries are dropped and counted, unanswered', async () => {
    const epoch = `test-${Date.now()}-${Math.random().toString(16).slice(2)}`;
    const holder = await connectBus(TEST_NATS_URL);
    cleanups.push(() => holder.close());
    const asker = await connectBus(TEST_NATS_URL);
    cleanups.push(() => asker.close());
    const asked: string[] = [];
    holder.answerHeld(epoch, (requestId) => {
      asked.push(requestId);
      return requestId === 'held-1';
    });
    await holder.flush();

    expect(await asker.askHeld({ epoch, requestId: 'held-1' }, 5_000)).toBe(true);
    expect(await asker.askHeld({ epoch, requestId: 'other' }, 200)).toBe(false);
    // Another cluster's epoch has no responder: "nobody holds it" at once.
    expect(await asker.askHeld({ epoch: `${epoch}-other`, requestId: 'held-1' }, 5_000)).toBe(false);

    const { connect } = await import('@nats-io/transport-node');
    const direct = await connect({ servers: new URL(TEST_NATS_URL).host });
    cleanups.push(() => direct.close());
    for (const payload of ['not json', JSON.stringify({ epoch }), JSON.stringify({ epoch: 'other-epoch', requestId: 'held-1' })]) {
      await expect(direct.request(heldSubject(epoch), payload, { timeout: 200 })).rejects.toThrow();
    }
    // Every query reached the holder and was read before the count is taken.
    await direct.flush();
    await holder.flush();
    expect(holder.dropped).toBe(3);
    expect(asked).toEqual(['held-1', 'other']);
  });
});
