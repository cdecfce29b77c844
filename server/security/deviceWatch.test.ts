/**
 * The device watch's bus path (security/deviceWatch.ts `ended`; SPEC.md TEAM-S6): a notice
 * that a device ended closes its sockets here only when the store agrees (a forged notice
 * for a live device closes nothing), closes them when the store does not answer (fail
 * closed), and costs no query for a device without a socket here.
 */
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../log.ts';
import { startDeviceWatch } from './deviceWatch.ts';

function sockets(ids: string[]) {
  const open = new Set(ids);
  const closed: string[] = [];
  return {
    closed,
    connectedDevices: () => [...open],
    closeDevice: (id: string) => {
      if (!open.delete(id)) return 0;
      closed.push(id);
      return 1;
    },
  };
}

describe('TEAM-S6: device notices', () => {
  it('TEAM-S6: a notice closes the sockets of a device the store no longer has, and of none it still has', async () => {
    const reads: string[][] = [];
    const here = sockets(['dev-gone', 'dev-live']);
    const watch = startDeviceWatch({
      devices: { existing: async (ids) => (reads.push([...ids]), new Set(ids.filter((id) => id === 'dev-live'))) },
      sockets: here,
      logger: silentLogger,
      intervalMs: 600_000,
    });
    await watch.ended('dev-live');
    await watch.ended('dev-gone');
    await watch.ended('dev-elsewhere');
    watch.stop();
    expect(here.closed).toEqual(['dev-gone']);
    // No read for the device without a socket here.
    expect(reads).toEqual([['dev-live'], ['dev-gone']]);
  });

  it('TEAM-S6: when the store does not answer, the notice closes the sockets (fail closed)', async () => {
    const here = sockets(['dev-a']);
    const watch = startDeviceWatch({
      devices: { existing: () => Promise.reject(new Error('connection refused')) },
      sockets: here,
      logger: silentLogger,
      intervalMs: 600_000,
    });
    await watch.ended('dev-a');
    watch.stop();
    expect(here.closed).toEqual(['dev-a']);
  });
});
