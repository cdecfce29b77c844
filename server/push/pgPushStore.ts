/**
 * Push subscriptions and push claims in PostgreSQL (contract-2 §6, SPEC.md TEAM-S2): every
 * instance pushes to every subscription, and a request's push is claimed by one row made
 * with `ON CONFLICT DO NOTHING`, so of all instances whose delay fires for it exactly one
 * sends it; the "finished" push goes from the one whose DELETE removed the claim.
 */
import type pg from 'pg';
import { type PushStore, type StoredSubscription, type SubscriptionRow, toSubscription } from './pushStore.ts';

export class PgPushStore implements PushStore {
  constructor(private readonly pool: pg.Pool) {}

  async upsert(subscription: { endpoint: string; keys: { p256dh: string; auth: string } }, deviceId: string | null, at: number): Promise<void> {
    await this.pool.query(
      `INSERT INTO push_subscriptions (endpoint, p256dh, auth, device_id, created_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (endpoint) DO UPDATE SET p256dh = excluded.p256dh, auth = excluded.auth, device_id = excluded.device_id`,
      [subscription.endpoint, subscription.keys.p256dh, subscription.keys.auth, deviceId, at],
    );
  }

  async get(endpoint: string): Promise<StoredSubscription | undefined> {
    const row = (await this.pool.query<SubscriptionRow>('SELECT * FROM push_subscriptions WHERE endpoint = $1', [endpoint])).rows[0];
    return row ? toSubscription(row) : undefined;
  }

  async remove(endpoint: string): Promise<boolean> {
    return ((await this.pool.query('DELETE FROM push_subscriptions WHERE endpoint = $1', [endpoint])).rowCount ?? 0) > 0;
  }

  async removeForDevice(deviceId: string): Promise<number> {
    return (await this.pool.query('DELETE FROM push_subscriptions WHERE device_id = $1', [deviceId])).rowCount ?? 0;
  }

  async list(): Promise<StoredSubscription[]> {
    return (await this.pool.query<SubscriptionRow>('SELECT * FROM push_subscriptions ORDER BY created_at, endpoint')).rows.map(toSubscription);
  }

  async count(): Promise<number> {
    return (await this.pool.query<{ n: number }>('SELECT COUNT(*)::int AS n FROM push_subscriptions')).rows[0]?.n ?? 0;
  }

  async markSent(requestId: string, at: number): Promise<boolean> {
    const result = await this.pool.query('INSERT INTO push_sent (request_id, sent_at) VALUES ($1, $2) ON CONFLICT (request_id) DO NOTHING', [requestId, at]);
    return (result.rowCount ?? 0) > 0;
  }

  async wasSent(requestId: string): Promise<boolean> {
    return (await this.pool.query('SELECT 1 FROM push_sent WHERE request_id = $1', [requestId])).rows.length > 0;
  }

  async forgetSent(requestId: string): Promise<boolean> {
    return ((await this.pool.query('DELETE FROM push_sent WHERE request_id = $1', [requestId])).rowCount ?? 0) > 0;
  }

  async sentRequestIds(): Promise<string[]> {
    return (await this.pool.query<{ request_id: string }>('SELECT request_id FROM push_sent ORDER BY request_id')).rows.map((r) => r.request_id);
  }
}
