/**
 * Revocations made by another instance (contract-2 §6, SPEC.md TEAM-S1): a device ended on
 * instance A is gone from the shared store at once, so its next call anywhere gets 401
 * (the guard reads the store); but a socket on instance B was authenticated at its
 * upgrade and is never asked again. This watch asks: every `intervalMs` it reads which of
 * the devices with a socket here still exist and closes the sockets of the others with
 * 1008, so a revocation reaches every instance's sockets within one interval. The poll
 * needs no bus, misses nothing when a message is lost, and costs one indexed query per
 * interval, only while devices hold sockets.
 *
 * With a bus, the instance that ends a device also announces it (natsBus.ts
 * `announceDeviceEnded`) and every instance hands the notice to `ended(id)`, which closes
 * that device's sockets here at once instead of at the next round. The notice is only a
 * hint (anyone on the bus could send one): the store is asked first, and the sockets stay
 * open only when it answers that the device exists. The poll stays, for a lost notice.
 */
import type { Logger } from '../log.ts';
import type { DeviceStore } from '../store/deviceStore.ts';

export const DEVICE_WATCH_MS = 2_000;

export type WatchedSockets = {
  connectedDevices(): string[];
  closeDevice(deviceId: string): number;
};

export function startDeviceWatch(deps: { devices: Pick<DeviceStore, 'existing'>; sockets: WatchedSockets; logger: Logger; intervalMs?: number }): {
  /** One round now (tests); resolves when done. */
  check(): Promise<void>;
  /** A notice that `deviceId` ended somewhere: its sockets here close now unless the
   *  store says it still exists (a read that fails closes them: fail closed). */
  ended(deviceId: string): Promise<void>;
  stop(): void;
} {
  let running: Promise<void> | undefined;
  let stopped = false;
  const round = async () => {
    // Yield first: the round's end (below) must come after `running` is set.
    await Promise.resolve();
    try {
      const ids = deps.sockets.connectedDevices();
      if (ids.length === 0) return;
      const still = await deps.devices.existing(ids);
      if (stopped) return;
      for (const id of ids) {
        if (still.has(id)) continue;
        const closed = deps.sockets.closeDevice(id);
        deps.logger.info('device ended elsewhere', { id, sockets: closed });
      }
    } catch (error) {
      deps.logger.warn('device watch failed', { error: String(error) });
    } finally {
      running = undefined;
    }
  };
  // One round at a time: a slow store does not pile rounds up.
  const check = () => (running ??= round());
  const timer = setInterval(() => void check(), deps.intervalMs ?? DEVICE_WATCH_MS);
  timer.unref();
  const ended = async (deviceId: string) => {
    // Most notices are for devices with no socket here: no query for them.
    if (stopped || !deps.sockets.connectedDevices().includes(deviceId)) return;
    let exists = false;
    try {
      exists = (await deps.devices.existing([deviceId])).has(deviceId);
    } catch (error) {
      deps.logger.warn('device notice: the store did not answer, closing the device’s sockets', { id: deviceId, error: String(error) });
    }
    if (stopped || exists) return;
    const closed = deps.sockets.closeDevice(deviceId);
    deps.logger.info('device ended elsewhere', { id: deviceId, sockets: closed, via: 'bus' });
  };
  return {
    check,
    ended,
    stop: () => {
      stopped = true;
      clearInterval(timer);
    },
  };
}
