/**
 * Devices (contract-2 §1, docs/operations.md "Devices"): each browser that opened the
 * page with the owner token holds a session secret of its own. The secret is random
 * (256 bits, never derived from a token) and only its SHA-256 hash is stored, so neither
 * the database nor a backup of it opens anything. Kept in the event store's SQLite file
 * (`<data-dir>/gatehouse.db`, table `devices`) on a connection of its own: WAL, so a
 * device survives a restart and `kill -9`; `CREATE TABLE IF NOT EXISTS`, so an existing
 * database gains the table untouched.
 *
 * `lastSeenAt` is written at most once per LAST_SEEN_STEP_MS per device: a write per
 * request would turn every call into a disk write.
 *
 * Pairing codes (contract-2 §4) live here too, since redeeming one is making a device:
 * one transaction deletes the code and inserts the device, so a code makes one device at
 * most. Like secrets, codes are stored only as hashes.
 *
 * `DeviceStore` is the interface (asynchronous, so a networked store fits it); this file
 * holds the SQLite one, `pgDeviceStore.ts` the PostgreSQL one for several instances
 * (contract-2 §6, SPEC.md TEAM-S1); both pass `sharedContract.ts`.
 */
import Database from 'better-sqlite3';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DB_FILE } from './sqliteStore.ts';

export type Device = {
  id: string;
  /** Made from the User-Agent when the device was created, e.g. "Chrome on Linux". */
  name: string;
  createdAt: number;
  lastSeenAt: number;
};

/** `lastSeenAt` moves in steps of at most this much. */
export const LAST_SEEN_STEP_MS = 60_000;
/** Beyond this many devices, the one seen longest ago makes room (a script that opens
 *  `?token=` in a loop must not grow the table for ever). */
export const MAX_DEVICES = 1_000;

/** A pairing link works once, for this long. */
export const PAIRING_TTL_MS = 10 * 60_000;
/** Unused codes kept at most; a new one beyond this ends the oldest. */
export const MAX_PAIRINGS = 100;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS devices (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  secret_hash TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS pairings (
  code_hash TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
`;

export type DeviceRow = { id: string; name: string; created_at: number; last_seen_at: number };

export const hashOf = (secret: string) => createHash('sha256').update(secret, 'utf8').digest('hex');
export const toDevice = (row: DeviceRow): Device => ({ id: row.id, name: row.name, createdAt: row.created_at, lastSeenAt: row.last_seen_at });
export const newSecret = () => randomBytes(32).toString('base64url');
export const newDeviceId = () => `dev-${randomBytes(8).toString('hex')}`;

/** A device session secret as the cookie carries it, and a pairing code: 43 base64url
 *  characters (256 bits). */
export const SECRET = /^[A-Za-z0-9_-]{43}$/;

/** The devices and pairing codes, wherever they are kept. */
export interface DeviceStore {
  /** A new device and the secret its cookie carries (returned once, never stored). */
  create(name: string): Promise<{ device: Device; secret: string }>;
  /** A one-time pairing code, valid for PAIRING_TTL_MS (returned once, stored hashed). */
  createPairing(): Promise<{ code: string; expiresAt: number }>;
  /** Spends a pairing code on a new device; undefined when the code was used, has
   *  expired or never existed (a spent code is gone, whatever the answer). */
  redeemPairing(code: string, name: string): Promise<{ device: Device; secret: string } | undefined>;
  /** The device this secret belongs to, or undefined (also once the store is closed). */
  lookup(secret: string): Promise<Device | undefined>;
  /** The device made a call that was let through: move `lastSeenAt` (in steps). */
  seen(device: Device): Promise<Device>;
  get(id: string): Promise<Device | undefined>;
  /** Oldest first. */
  list(): Promise<Device[]>;
  /** Ends a device: its secret opens nothing from now on. False when there is no such device. */
  revoke(id: string): Promise<boolean>;
  /** Which of `ids` are still devices (the revocation watch of several instances). */
  existing(ids: readonly string[]): Promise<Set<string>>;
  /** Calls `listener` with the id of every device that THIS instance ends from now on
   *  (another instance's revocations reach its sockets by the bus notice or the watch,
   *  deviceWatch.ts). */
  onEnded(listener: (deviceId: string) => void): () => void;
  close(): Promise<void>;
}

/** The listeners of `onEnded`, shared by the implementations. */
export class EndedListeners {
  private readonly listeners = new Set<(deviceId: string) => void>();
  add(listener: (deviceId: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  tell(ids: readonly string[]): void {
    for (const id of ids) for (const listener of this.listeners) listener(id);
  }
}

export class SqliteDeviceStore implements DeviceStore {
  private readonly db: Database.Database;
  private readonly now: () => number;
  private readonly stmts;
  /** Told of every device that ends, by revocation or eviction (its sockets and push
   *  subscriptions end with it). */
  private readonly ended = new EndedListeners();

  /** `file`: the database file (`--store sqlite:PATH`); default `<dataDir>/gatehouse.db`. */
  constructor(options: { dataDir: string | ':memory:'; file?: string; now?: () => number }) {
    let file = ':memory:';
    if (options.dataDir !== ':memory:') {
      file = options.file ?? join(options.dataDir, DB_FILE);
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    }
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(SCHEMA);
    this.now = options.now ?? Date.now;
    this.stmts = {
      insert: this.db.prepare('INSERT INTO devices (id, name, secret_hash, created_at, last_seen_at) VALUES (?, ?, ?, ?, ?)'),
      byHash: this.db.prepare<[string], DeviceRow>('SELECT id, name, created_at, last_seen_at FROM devices WHERE secret_hash = ?'),
      byId: this.db.prepare<[string], DeviceRow>('SELECT id, name, created_at, last_seen_at FROM devices WHERE id = ?'),
      seen: this.db.prepare('UPDATE devices SET last_seen_at = ? WHERE id = ?'),
      list: this.db.prepare<[], DeviceRow>('SELECT id, name, created_at, last_seen_at FROM devices ORDER BY created_at, id'),
      count: this.db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM devices'),
      evict: this.db.prepare<[number], { id: string }>(
        'DELETE FROM devices WHERE id IN (SELECT id FROM devices ORDER BY last_seen_at, created_at LIMIT ?) RETURNING id',
      ),
      remove: this.db.prepare('DELETE FROM devices WHERE id = ?'),
      insertPairing: this.db.prepare('INSERT INTO pairings (code_hash, created_at, expires_at) VALUES (?, ?, ?)'),
      expirePairings: this.db.prepare('DELETE FROM pairings WHERE expires_at <= ?'),
      countPairings: this.db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM pairings'),
      evictPairings: this.db.prepare('DELETE FROM pairings WHERE code_hash IN (SELECT code_hash FROM pairings ORDER BY created_at LIMIT ?)'),
      takePairing: this.db.prepare<[string], { expires_at: number }>('DELETE FROM pairings WHERE code_hash = ? RETURNING expires_at'),
    };
  }

  async create(name: string): Promise<{ device: Device; secret: string }> {
    const { evicted, ...made } = this.db.transaction(() => this.createNow(name))();
    this.ended.tell(evicted);
    return made;
  }

  /** Inside the caller's transaction; the caller tells the evicted devices' listeners
   *  after its commit: a listener writes to the same file on another connection (the
   *  push subscriptions), which would wait for this transaction's lock (AUTH-4). */
  private createNow(name: string): { device: Device; secret: string; evicted: string[] } {
    const secret = newSecret();
    const now = this.now();
    const device: Device = { id: newDeviceId(), name, createdAt: now, lastSeenAt: now };
    const over = this.stmts.count.get()!.n - MAX_DEVICES + 1;
    const evicted = over > 0 ? this.stmts.evict.all(over).map((row) => row.id) : [];
    this.stmts.insert.run(device.id, device.name, hashOf(secret), device.createdAt, device.lastSeenAt);
    return { device, secret, evicted };
  }

  async createPairing(): Promise<{ code: string; expiresAt: number }> {
    const code = newSecret();
    const now = this.now();
    const expiresAt = now + PAIRING_TTL_MS;
    this.db.transaction(() => {
      this.stmts.expirePairings.run(now);
      const over = this.stmts.countPairings.get()!.n - MAX_PAIRINGS + 1;
      if (over > 0) this.stmts.evictPairings.run(over);
      this.stmts.insertPairing.run(hashOf(code), now, expiresAt);
    })();
    return { code, expiresAt };
  }

  async redeemPairing(code: string, name: string): Promise<{ device: Device; secret: string } | undefined> {
    if (!SECRET.test(code) || !this.db.open) return undefined;
    const made = this.db.transaction(() => {
      const taken = this.stmts.takePairing.get(hashOf(code));
      if (!taken || taken.expires_at <= this.now()) return undefined;
      return this.createNow(name);
    })();
    if (!made) return undefined;
    const { evicted, ...redeemed } = made;
    this.ended.tell(evicted);
    return redeemed;
  }

  async lookup(secret: string): Promise<Device | undefined> {
    // Closed while the server stops: nobody is a device any more.
    if (!SECRET.test(secret) || !this.db.open) return undefined;
    const row = this.stmts.byHash.get(hashOf(secret));
    return row ? toDevice(row) : undefined;
  }

  async seen(device: Device): Promise<Device> {
    const now = this.now();
    if (now - device.lastSeenAt < LAST_SEEN_STEP_MS || !this.db.open) return device;
    this.stmts.seen.run(now, device.id);
    return { ...device, lastSeenAt: now };
  }

  async get(id: string): Promise<Device | undefined> {
    if (!this.db.open) return undefined;
    const row = this.stmts.byId.get(id);
    return row ? toDevice(row) : undefined;
  }

  async list(): Promise<Device[]> {
    return this.stmts.list.all().map(toDevice);
  }

  async revoke(id: string): Promise<boolean> {
    const removed = this.stmts.remove.run(id).changes > 0;
    if (removed) this.ended.tell([id]);
    return removed;
  }

  async existing(ids: readonly string[]): Promise<Set<string>> {
    if (!this.db.open) return new Set();
    return new Set(ids.filter((id) => this.stmts.byId.get(id) !== undefined));
  }

  onEnded(listener: (deviceId: string) => void): () => void {
    return this.ended.add(listener);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

/** A short name for a browser from its User-Agent, from fixed words only (the header is
 *  the client's to choose, so none of its text is shown as it is). */
export function deviceName(userAgent: string | undefined): string {
  const ua = userAgent ?? '';
  const browser = /Edg(e|A|iOS)?\//.test(ua)
    ? 'Edge'
    : /OPR\/|Opera/.test(ua)
      ? 'Opera'
      : /Firefox\/|FxiOS\//.test(ua)
        ? 'Firefox'
        : /Chromium\//.test(ua)
          ? 'Chromium'
          : /Chrome\/|CriOS\//.test(ua)
            ? 'Chrome'
            : /Safari\//.test(ua) && /Version\//.test(ua)
              ? 'Safari'
              : /^curl\//.test(ua)
                ? 'curl'
                : 'Browser';
  const os = /iPhone|iPad|iPod/.test(ua)
    ? 'iOS'
    : /Android/.test(ua)
      ? 'Android'
      : /CrOS/.test(ua)
        ? 'ChromeOS'
        : /Mac OS X|Macintosh/.test(ua)
          ? 'macOS'
          : /Windows/.test(ua)
            ? 'Windows'
            : /Linux|X11/.test(ua)
              ? 'Linux'
              : undefined;
  return os ? `${browser} on ${os}` : browser;
}
