/**
 * Web Push's durable state, in two tables of the main database (`gatehouse.db`), created
 * with `IF NOT EXISTS` so an existing database gains them on the next start:
 *
 * - `push_subscriptions`: one row per push endpoint (the browser's PushSubscription),
 *   with the device that made it (`device_id`, NULL when the owner token made it), so a
 *   revoked device's subscriptions end with it (`removeForDevice`).
 * - `push_sent`: the requests already pushed. A row is written BEFORE the push is sent,
 *   so a request is pushed at most once, also across a restart or a crash (at most once
 *   beats twice: a crash between the row and the POST loses that one push). The row is
 *   deleted when the request's "finished" push has been handed out.
 *
 * `PushStore` is the interface (asynchronous); `SqlitePushStore` keeps it in the main
 * SQLite database, `pgPushStore.ts` in PostgreSQL for several instances (contract-2 §6,
 * SPEC.md TEAM-S2). With several instances the `push_sent` row is the claim: the one
 * instance whose insert made it sends the push, the one whose delete removed it sends
 * the "finished" push.
 */
import type Database from 'better-sqlite3';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS push_subscriptions (
  endpoint TEXT PRIMARY KEY,
  p256dh TEXT NOT NULL,
  auth TEXT NOT NULL,
  device_id TEXT,
  created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS push_subscriptions_device ON push_subscriptions (device_id);
CREATE TABLE IF NOT EXISTS push_sent (
  request_id TEXT PRIMARY KEY,
  sent_at INTEGER NOT NULL
);
`;

export type StoredSubscription = {
  endpoint: string;
  keys: { p256dh: string; auth: string };
  deviceId: string | null;
  createdAt: number;
};

/** A subscription row as both stores keep it. */
export type SubscriptionRow = { endpoint: string; p256dh: string; auth: string; device_id: string | null; created_at: number };

export const toSubscription = (row: SubscriptionRow): StoredSubscription => ({
  endpoint: row.endpoint,
  keys: { p256dh: row.p256dh, auth: row.auth },
  deviceId: row.device_id,
  createdAt: row.created_at,
});

/** Push subscriptions and push claims, wherever they are kept. */
export interface PushStore {
  /** Add or replace (a browser that subscribes again with the same endpoint, maybe new keys). */
  upsert(subscription: { endpoint: string; keys: { p256dh: string; auth: string } }, deviceId: string | null, at: number): Promise<void>;
  get(endpoint: string): Promise<StoredSubscription | undefined>;
  /** True when there was such a subscription. */
  remove(endpoint: string): Promise<boolean>;
  /** Every subscription of a device (its revocation ends them); the number removed. */
  removeForDevice(deviceId: string): Promise<number>;
  /** Oldest first. */
  list(): Promise<StoredSubscription[]>;
  count(): Promise<number>;
  /** Claim `requestId`'s push; false when it was already claimed (push nothing). */
  markSent(requestId: string, at: number): Promise<boolean>;
  wasSent(requestId: string): Promise<boolean>;
  /** Drop the claim; true for the one caller whose call removed it (it sends "finished"). */
  forgetSent(requestId: string): Promise<boolean>;
  sentRequestIds(): Promise<string[]>;
}

export class SqlitePushStore implements PushStore {
  private readonly stmts;

  constructor(db: Database.Database) {
    db.exec(SCHEMA);
    this.stmts = {
      upsert: db.prepare(
        `INSERT INTO push_subscriptions (endpoint, p256dh, auth, device_id, created_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(endpoint) DO UPDATE SET p256dh = excluded.p256dh, auth = excluded.auth, device_id = excluded.device_id`,
      ),
      get: db.prepare<[string], SubscriptionRow>('SELECT * FROM push_subscriptions WHERE endpoint = ?'),
      remove: db.prepare('DELETE FROM push_subscriptions WHERE endpoint = ?'),
      removeForDevice: db.prepare('DELETE FROM push_subscriptions WHERE device_id = ?'),
      list: db.prepare<[], SubscriptionRow>('SELECT * FROM push_subscriptions ORDER BY created_at, endpoint'),
      count: db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM push_subscriptions'),
      markSent: db.prepare('INSERT OR IGNORE INTO push_sent (request_id, sent_at) VALUES (?, ?)'),
      wasSent: db.prepare<[string], { request_id: string }>('SELECT request_id FROM push_sent WHERE request_id = ?'),
      forgetSent: db.prepare('DELETE FROM push_sent WHERE request_id = ?'),
      listSent: db.prepare<[], { request_id: string }>('SELECT request_id FROM push_sent'),
    };
  }

  /** Add or replace (a browser that subscribes again with the same endpoint, maybe new keys). */
  async upsert(subscription: { endpoint: string; keys: { p256dh: string; auth: string } }, deviceId: string | null, at: number): Promise<void> {
    this.stmts.upsert.run(subscription.endpoint, subscription.keys.p256dh, subscription.keys.auth, deviceId, at);
  }

  async get(endpoint: string): Promise<StoredSubscription | undefined> {
    const row = this.stmts.get.get(endpoint);
    return row ? toSubscription(row) : undefined;
  }

  async remove(endpoint: string): Promise<boolean> {
    return this.stmts.remove.run(endpoint).changes > 0;
  }

  async removeForDevice(deviceId: string): Promise<number> {
    return this.stmts.removeForDevice.run(deviceId).changes;
  }

  async list(): Promise<StoredSubscription[]> {
    return this.stmts.list.all().map(toSubscription);
  }

  async count(): Promise<number> {
    return this.stmts.count.get()!.n;
  }

  async markSent(requestId: string, at: number): Promise<boolean> {
    return this.stmts.markSent.run(requestId, at).changes > 0;
  }

  async wasSent(requestId: string): Promise<boolean> {
    return this.stmts.wasSent.get(requestId) !== undefined;
  }

  async forgetSent(requestId: string): Promise<boolean> {
    return this.stmts.forgetSent.run(requestId).changes > 0;
  }

  async sentRequestIds(): Promise<string[]> {
    return this.stmts.listSent.all().map((row) => row.request_id);
  }
}
