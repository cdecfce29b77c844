/**
 * The shared state of several instances on one PostgreSQL database (contract-2 §6, SPEC.md
 * TEAM-S): device sessions, pairing codes, push subscriptions and claims, the VAPID key
 * pair and remembered rules. A pool of its own (small: these are rare, short calls) and a
 * migration list of its own, recorded in `gatehouse_shared_schema` and applied under an
 * advisory lock of its own, the same way as the log's (postgresMigrations.ts): so its
 * numbers never collide with the event store's, whichever lands first.
 */
import pg from 'pg';
import { applyMigrations, type Migration } from './postgresMigrations.ts';
import { describeUrl, typeParsers } from './postgresStore.ts';

/** `pg_advisory_xact_lock` key: "gatehoust", next to the log's migration key. */
const SHARED_MIGRATION_LOCK = 0x6761746574;

export const SHARED_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    what: 'devices, pairings, push subscriptions and claims, VAPID keys, rules',
    sql: `
CREATE TABLE devices (
  id text PRIMARY KEY,
  name text NOT NULL,
  secret_hash text NOT NULL UNIQUE,
  created_at bigint NOT NULL,
  last_seen_at bigint NOT NULL
);
CREATE INDEX devices_seen ON devices (last_seen_at, created_at);
CREATE TABLE pairings (
  code_hash text PRIMARY KEY,
  created_at bigint NOT NULL,
  expires_at bigint NOT NULL
);
CREATE TABLE push_subscriptions (
  endpoint text PRIMARY KEY,
  p256dh text NOT NULL,
  auth text NOT NULL,
  device_id text,
  created_at bigint NOT NULL
);
CREATE INDEX push_subscriptions_device ON push_subscriptions (device_id);
-- A request's push claim: the instance whose INSERT made the row sends its push, the one
-- whose DELETE removed it sends its "finished" push (exactly one instance each).
CREATE TABLE push_sent (
  request_id text PRIMARY KEY,
  sent_at bigint NOT NULL
);
CREATE TABLE vapid_keys (
  id boolean PRIMARY KEY DEFAULT true CHECK (id),
  public_key text NOT NULL,
  private_key text NOT NULL
);
CREATE TABLE rules (
  id text PRIMARY KEY,
  tool_name text NOT NULL,
  pattern text NOT NULL,
  kind text NOT NULL,
  decision text NOT NULL,
  scope text NOT NULL,
  scope_value text,
  created_at bigint NOT NULL,
  created_by text NOT NULL,
  source_request_id text,
  revoked_at bigint
);
-- One active rule per meaning: two instances remembering the same rule make one row.
CREATE UNIQUE INDEX rules_active_unique ON rules (tool_name, pattern, kind, decision, scope, COALESCE(scope_value, ''))
  WHERE revoked_at IS NULL;
-- Bumped by every change to the rules: an instance rereads them only when it moved.
CREATE TABLE rules_version (
  id boolean PRIMARY KEY DEFAULT true CHECK (id),
  version bigint NOT NULL
);
INSERT INTO rules_version (id, version) VALUES (true, 0);
`,
  },
];

export type SharedPg = {
  pool: pg.Pool;
  /** The URL without its password (logs, errors). */
  location: string;
  close(): Promise<void>;
};

/** Connects and applies the missing shared migrations. */
export async function openSharedPg(options: { url: string; poolSize?: number }): Promise<SharedPg> {
  const location = describeUrl(options.url);
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize ?? 4,
    types: typeParsers,
    connectionTimeoutMillis: 10_000,
    statement_timeout: 30_000,
    query_timeout: 35_000,
    keepAlive: true,
  });
  pool.on('error', (error) => process.emitWarning(`PostgreSQL connection to ${location} failed: ${error.message}`));
  try {
    const client = await pool.connect();
    try {
      await migrateShared(client, location);
    } finally {
      client.release();
    }
  } catch (error) {
    await pool.end().catch(() => {});
    throw new Error(`cannot open the shared state at ${location}: ${(error as Error).message}`, { cause: error });
  }
  let closed: Promise<void> | undefined;
  return { pool, location, close: () => (closed ??= pool.end()) };
}

export const migrateShared = (client: pg.PoolClient, location: string): Promise<number[]> =>
  applyMigrations(
    client,
    { table: 'gatehouse_shared_schema', lock: SHARED_MIGRATION_LOCK, migrations: SHARED_MIGRATIONS, name: 'shared-state schema' },
    location,
  );

/** Runs `fn` in one transaction on one connection of the pool. */
export async function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}
