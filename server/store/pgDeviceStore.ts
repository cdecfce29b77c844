/**
 * Devices and pairing codes in PostgreSQL (contract-2 §6, SPEC.md TEAM-S1): every instance
 * on one database shares them, so a device paired on one instance opens every other, and
 * one revoked on one opens none. Same rules as the SQLite store (deviceStore.ts): only
 * hashes are stored, a code makes one device at most (its DELETE … RETURNING and the
 * device's INSERT are one transaction), at most MAX_DEVICES devices and MAX_PAIRINGS
 * codes (the oldest make room, under a transaction-scoped advisory lock so two instances
 * creating at once do not both skip the eviction). A device's push subscriptions end in
 * the same transaction as the device, whichever instance ends it.
 */
import type pg from 'pg';
import {
  type Device,
  type DeviceRow,
  type DeviceStore,
  EndedListeners,
  hashOf,
  LAST_SEEN_STEP_MS,
  MAX_DEVICES,
  MAX_PAIRINGS,
  newDeviceId,
  newSecret,
  PAIRING_TTL_MS,
  SECRET,
  toDevice,
} from './deviceStore.ts';
import { inTransaction } from './sharedPg.ts';

/** Advisory lock keys of the two bounded tables ("gh-d", "gh-p"). */
const DEVICES_LOCK = 0x67682d64;
const PAIRINGS_LOCK = 0x67682d70;

const COLUMNS = 'id, name, created_at, last_seen_at';

export class PgDeviceStore implements DeviceStore {
  private readonly ended = new EndedListeners();
  private closed = false;
  private readonly now: () => number;

  constructor(
    private readonly pool: pg.Pool,
    options: { now?: () => number } = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  async create(name: string): Promise<{ device: Device; secret: string }> {
    const made = await inTransaction(this.pool, (client) => this.insertDevice(client, name));
    this.ended.tell(made.evicted);
    return { device: made.device, secret: made.secret };
  }

  private async insertDevice(client: pg.PoolClient, name: string): Promise<{ device: Device; secret: string; evicted: string[] }> {
    const secret = newSecret();
    const now = this.now();
    const device: Device = { id: newDeviceId(), name, createdAt: now, lastSeenAt: now };
    await client.query('SELECT pg_advisory_xact_lock($1)', [DEVICES_LOCK]);
    const count = (await client.query<{ n: number }>('SELECT COUNT(*)::int AS n FROM devices')).rows[0]?.n ?? 0;
    const over = count - MAX_DEVICES + 1;
    let evicted: string[] = [];
    if (over > 0) {
      const { rows } = await client.query<{ id: string }>(
        'DELETE FROM devices WHERE id IN (SELECT id FROM devices ORDER BY last_seen_at, created_at LIMIT $1) RETURNING id',
        [over],
      );
      evicted = rows.map((r) => r.id);
      await client.query('DELETE FROM push_subscriptions WHERE device_id = ANY($1)', [evicted]);
    }
    await client.query('INSERT INTO devices (id, name, secret_hash, created_at, last_seen_at) VALUES ($1, $2, $3, $4, $5)', [
      device.id,
      device.name,
      hashOf(secret),
      device.createdAt,
      device.lastSeenAt,
    ]);
    return { device, secret, evicted };
  }

  async createPairing(): Promise<{ code: string; expiresAt: number }> {
    const code = newSecret();
    const now = this.now();
    const expiresAt = now + PAIRING_TTL_MS;
    await inTransaction(this.pool, async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1)', [PAIRINGS_LOCK]);
      await client.query('DELETE FROM pairings WHERE expires_at <= $1', [now]);
      const count = (await client.query<{ n: number }>('SELECT COUNT(*)::int AS n FROM pairings')).rows[0]?.n ?? 0;
      const over = count - MAX_PAIRINGS + 1;
      if (over > 0) await client.query('DELETE FROM pairings WHERE code_hash IN (SELECT code_hash FROM pairings ORDER BY created_at LIMIT $1)', [over]);
      await client.query('INSERT INTO pairings (code_hash, created_at, expires_at) VALUES ($1, $2, $3)', [hashOf(code), now, expiresAt]);
    });
    return { code, expiresAt };
  }

  async redeemPairing(code: string, name: string): Promise<{ device: Device; secret: string } | undefined> {
    if (!SECRET.test(code) || this.closed) return undefined;
    // The code's row is taken first and committed with the device: two instances redeeming
    // the same code at once, one DELETE finds the row (the other waits on it, then finds none).
    const made = await inTransaction(this.pool, async (client) => {
      const taken = (await client.query<{ expires_at: number }>('DELETE FROM pairings WHERE code_hash = $1 RETURNING expires_at', [hashOf(code)])).rows[0];
      if (!taken || taken.expires_at <= this.now()) return undefined;
      return this.insertDevice(client, name);
    });
    if (!made) return undefined;
    this.ended.tell(made.evicted);
    return { device: made.device, secret: made.secret };
  }

  async lookup(secret: string): Promise<Device | undefined> {
    if (!SECRET.test(secret) || this.closed) return undefined;
    const row = (await this.pool.query<DeviceRow>(`SELECT ${COLUMNS} FROM devices WHERE secret_hash = $1`, [hashOf(secret)])).rows[0];
    return row ? toDevice(row) : undefined;
  }

  async seen(device: Device): Promise<Device> {
    const now = this.now();
    if (now - device.lastSeenAt < LAST_SEEN_STEP_MS || this.closed) return device;
    await this.pool.query('UPDATE devices SET last_seen_at = GREATEST(last_seen_at, $1) WHERE id = $2', [now, device.id]);
    return { ...device, lastSeenAt: now };
  }

  async get(id: string): Promise<Device | undefined> {
    if (this.closed) return undefined;
    const row = (await this.pool.query<DeviceRow>(`SELECT ${COLUMNS} FROM devices WHERE id = $1`, [id])).rows[0];
    return row ? toDevice(row) : undefined;
  }

  async list(): Promise<Device[]> {
    const { rows } = await this.pool.query<DeviceRow>(`SELECT ${COLUMNS} FROM devices ORDER BY created_at, id`);
    return rows.map(toDevice);
  }

  async revoke(id: string): Promise<boolean> {
    const removed = await inTransaction(this.pool, async (client) => {
      const deleted = (await client.query('DELETE FROM devices WHERE id = $1', [id])).rowCount ?? 0;
      if (deleted > 0) await client.query('DELETE FROM push_subscriptions WHERE device_id = $1', [id]);
      return deleted > 0;
    });
    if (removed) this.ended.tell([id]);
    return removed;
  }

  async existing(ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0 || this.closed) return new Set();
    const { rows } = await this.pool.query<{ id: string }>('SELECT id FROM devices WHERE id = ANY($1)', [ids]);
    return new Set(rows.map((r) => r.id));
  }

  onEnded(listener: (deviceId: string) => void): () => void {
    return this.ended.add(listener);
  }

  /** The pool belongs to the shared state (sharedPg.ts), closed by its owner. */
  async close(): Promise<void> {
    this.closed = true;
  }
}
