/**
 * Device notices on the bus (natsBus.ts; SPEC.md TEAM-S6, like TEAM-8's announcements):
 * validated with zod on receipt; a message that is not JSON, names no device id of ours,
 * or belongs to another epoch is dropped and counted; a valid one reaches the listener.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connectBus, deviceSubject } from './natsBus.ts';
import { requireNats, TEST_NATS_URL } from './testing/nats.ts';

const reachable = await requireNats('the device notice tests');

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe.skipIf(!reachable)('TEAM-S6: device notices on the bus', () => {
  it('TEAM-S6: malformed notices, or of another epoch, are dropped and counted; a valid one, announced by another instance, is handed on', async () => {
    const epoch = `test-${Date.now()}-${Math.random().toString(16).slice(2)}`;
    const listener = await connectBus(TEST_NATS_URL);
    cleanups.push(() => listener.close());
    const sender = await connectBus(TEST_NATS_URL);
    cleanups.push(() => sender.close());
    const heard: string[] = [];
    let wake: () => void = () => {};
    const valid = new Promise<void>((resolve) => (wake = resolve));
    listener.subscribeDeviceEnded(epoch, (id) => {
      heard.push(id);
      wake();
    });
    // The subscription reached the server before anything is sent.
    await listener.flush();
    // On one connection, so they arrive in this order: garbage, a bad id, another epoch
    // on this subject, then a valid one.
    const { connect } = await import('@nats-io/transport-node');
    const direct = await connect({ servers: new URL(TEST_NATS_URL).host });
    cleanups.push(() => direct.close());
    direct.publish(deviceSubject(epoch), 'not json');
    direct.publish(deviceSubject(epoch), JSON.stringify({ epoch, deviceId: '../../etc' }));
    direct.publish(deviceSubject(epoch), JSON.stringify({ epoch: 'other-epoch', deviceId: 'dev-0123456789abcdef' }));
    await direct.flush();
    sender.announceDeviceEnded({ epoch, deviceId: 'dev-fedcba9876543210' });
    await sender.flush();
    await valid;
    expect(heard).toEqual(['dev-fedcba9876543210']);
    expect(listener.dropped).toBe(3);
  });
});
