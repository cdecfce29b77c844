/**
 * The bus between instances (docs/cluster.md, "The bus"): after a commit an instance
 * announces the batch's seq range on core NATS (`@nats-io/transport-node`); the others
 * learn that the log grew and read the new events from the store. The message carries
 * no event, so a lost one loses nothing (the followers also poll) and nothing secret
 * crosses the bus. Announcements are validated like any frame from outside (zod): a
 * malformed one is dropped and counted, never trusted.
 */
import { connect, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { z } from 'zod';

/** One committed batch: events `from`..`to` of the log of `epoch`. */
export type LogAnnouncement = { epoch: string; from: number; to: number };

const announcement = z
  .object({
    epoch: z.string().min(1).max(128),
    from: z.number().int().min(1),
    to: z.number().int().min(1),
  })
  .refine((a) => a.to >= a.from, 'to must not be below from');

export const logSubject = (epoch: string) => `gatehouse.log.${epoch}`;

/** A device ended (revoked, or evicted beyond the device limit) on some instance of the
 *  cluster whose log has `epoch` (docs/cluster.md, "Revocation"). Only a hint, like a log
 *  announcement: the receiver asks the store before closing anything. */
export type DeviceEndedNotice = { epoch: string; deviceId: string };

const deviceEnded = z.object({
  epoch: z.string().min(1).max(128),
  // The shape of `newDeviceId()` (store/deviceStore.ts); anything else is not ours.
  deviceId: z.string().regex(/^dev-[0-9a-f]{16}$/),
});

/** Scoped by the epoch: one database's cluster never hears another's devices. */
export const deviceSubject = (epoch: string) => `gatehouse.device-ended.${epoch}`;

/** "Does a screen connected to you hold this request?" (docs/cluster.md, "Push and the
 *  screens of other instances"): asked before a push, answered only by an instance whose
 *  connected screen holds it. Silence (a timeout, no responders) means nobody does. */
export type HeldQuery = { epoch: string; requestId: string };

const heldQuery = z.object({
  epoch: z.string().min(1).max(128),
  requestId: z.string().min(1).max(200),
});

export const heldSubject = (epoch: string) => `gatehouse.held.${epoch}`;

export type Bus = {
  /** Fire and forget: the followers also poll, so a lost announcement only delays them. */
  announce(range: LogAnnouncement): void;
  /** Valid announcements of `epoch` go to `onAnnouncement`; returns the unsubscribe. */
  subscribe(epoch: string, onAnnouncement: (range: LogAnnouncement) => void): () => void;
  /** Fire and forget: the device watch's poll covers a lost notice. */
  announceDeviceEnded(notice: DeviceEndedNotice): void;
  /** Valid notices of `epoch` go to `onEnded`; returns the unsubscribe. */
  subscribeDeviceEnded(epoch: string, onEnded: (deviceId: string) => void): () => void;
  /** True when another instance answers, within `timeoutMs`, that a screen connected
   *  to it holds the request; false on silence or any failure (then a push goes). */
  askHeld(query: HeldQuery, timeoutMs: number): Promise<boolean>;
  /** Answers the queries of `epoch` for the requests `isHeld` says this instance's
   *  screens hold (and stays silent for the rest); returns the unsubscribe. */
  answerHeld(epoch: string, isHeld: (requestId: string) => boolean): () => void;
  /** Messages dropped as malformed (or of another epoch). */
  readonly dropped: number;
  isConnected(): boolean;
  /** Waits until what was published reached the server (tests, shutdown). */
  flush(): Promise<void>;
  close(): Promise<void>;
};

const encoder = new TextEncoder();

export async function connectBus(url: string, options: { name?: string } = {}): Promise<Bus> {
  const parsed = new URL(url);
  if (parsed.protocol !== 'nats:') throw new Error(`the bus URL must be nats://HOST:PORT, got a ${parsed.protocol} URL`);
  const nc: NatsConnection = await connect({
    servers: parsed.host,
    ...(options.name !== undefined ? { name: options.name } : {}),
    // Reconnect for ever: the followers poll the store meanwhile.
    maxReconnectAttempts: -1,
  });
  const subscriptions = new Set<Subscription>();
  let dropped = 0;
  /** Subscribes to `subject`; a message that is not JSON, fails `schema` or names another
   *  epoch is dropped and counted, never handed on (SPEC.md TEAM-8). */
  const listen = <T extends { epoch: string }>(
    subject: string,
    schema: z.ZodType<T>,
    epoch: string,
    handle: (value: T, msg: { respond(payload: string): boolean }) => void,
  ) => {
    const sub = nc.subscribe(subject, {
      callback: (error, msg) => {
        if (error) return;
        let value: unknown;
        try {
          value = JSON.parse(msg.string());
        } catch {
          dropped += 1;
          return;
        }
        const result = schema.safeParse(value);
        if (!result.success || result.data.epoch !== epoch) {
          dropped += 1;
          return;
        }
        handle(result.data, msg);
      },
    });
    subscriptions.add(sub);
    return () => {
      subscriptions.delete(sub);
      sub.unsubscribe();
    };
  };
  return {
    announce(range) {
      nc.publish(logSubject(range.epoch), encoder.encode(JSON.stringify(range)));
    },
    subscribe(epoch, onAnnouncement) {
      return listen(logSubject(epoch), announcement, epoch, onAnnouncement);
    },
    announceDeviceEnded(notice) {
      nc.publish(deviceSubject(notice.epoch), encoder.encode(JSON.stringify(notice)));
    },
    subscribeDeviceEnded(epoch, onEnded) {
      return listen(deviceSubject(epoch), deviceEnded, epoch, (notice) => onEnded(notice.deviceId));
    },
    async askHeld(query, timeoutMs) {
      try {
        const reply = await nc.request(heldSubject(query.epoch), encoder.encode(JSON.stringify(query)), { timeout: timeoutMs });
        return (JSON.parse(reply.string()) as { held?: unknown }).held === true;
      } catch {
        return false;
      }
    },
    answerHeld(epoch, isHeld) {
      return listen(heldSubject(epoch), heldQuery, epoch, (query, msg) => {
        if (isHeld(query.requestId)) msg.respond(JSON.stringify({ held: true }));
      });
    },
    get dropped() {
      return dropped;
    },
    isConnected: () => !nc.isClosed(),
    flush: () => nc.flush(),
    async close() {
      for (const sub of subscriptions) sub.unsubscribe();
      subscriptions.clear();
      if (!nc.isClosed()) await nc.drain();
    },
  };
}
