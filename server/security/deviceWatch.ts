/**
 * Revocations made by another instance (contract-2 §6, SPEC.md TEAM-S1): a device ended on
 * instance A is gone from the shared store at once, so its next call anywhere gets 401
 * (the guard reads the store); but a socket on instance B was authenticated at its
 * upgrade and is never asked again. This watch asks: every `intervalMs` it reads which of
 * the devices with a socket here still exist and closes the sockets of the others with
 * 1008, so a revocation reaches every instance's sockets within one interval. A poll, not
 * a bus message: it needs no bus, misses nothing when one is lost, and costs one indexed
 * query per interval, only while devices hold sockets.
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
  return {
    check,
    stop: () => {
      stopped = true;
      clearInterval(timer);
    },
  };
}
