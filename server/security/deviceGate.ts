/**
 * The device gate of several instances (docs/cluster.md, "Revocation", SPEC.md TEAM-S7):
 * a socket is authenticated at its upgrade only, and a device ended on another instance
 * reaches this one's sockets by a bus notice or the watch's poll (deviceWatch.ts), both a
 * little later. So on a shared store every decision from a device-cookie socket first asks
 * the store whether the device still exists; one ended before the decision arrived is
 * refused, whatever the notice and the poll are doing.
 *
 * The read starts after the frame arrived, so a revocation committed before the arrival
 * is always seen. Checks asked for in one turn of the event loop share one query (a burst
 * of decisions, or many phones, cost one indexed read); the batch closes when its query
 * starts, so no check ever rides on a read that began before its frame arrived.
 */
import type { DeviceStore } from '../store/deviceStore.ts';

/** Resolves whether `deviceId` is still a device; rejects when the store did not answer. */
export type DeviceGate = (deviceId: string) => Promise<boolean>;

export function createDeviceGate(devices: Pick<DeviceStore, 'existing'>): DeviceGate {
  let batch: { ids: Set<string>; found: Promise<Set<string>> } | undefined;
  return (deviceId) => {
    if (!batch) {
      const ids = new Set<string>();
      const found = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
        batch = undefined;
        return devices.existing([...ids]);
      });
      batch = { ids, found };
    }
    batch.ids.add(deviceId);
    return batch.found.then((still) => still.has(deviceId));
  };
}
