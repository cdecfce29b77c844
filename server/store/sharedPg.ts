/**
 * The shared state of several instances on one PostgreSQL database (contract-2 §6, SPEC.md
 * TEAM-S): device sessions, pairing codes, push subscriptions and claims, the VAPID key
 * pair and remembered rules. A pool of its own (small: these are rare, short calls) and a
 * migration list of its own, recorded in `gatehouse_shared_schema` and applied under an
 * advisory lock of its own, the same way as the log's (postgresMigrations.ts): so its
 * numbers never collide with the event store's, whichever lands first.
 */
import pg from 'pg';
import { describeUrl } from './postgresStore.ts';

/** `pg_advisory_xact_lock` key: "gatehoust", next to the log's migration key. */
const SHARED_MIGRATION_LOCK = 0x6761746574;
const INT8_OID = 20;

type Migration = { version: number; what: string; sql: string };

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

export const SHARED_SCHEMA_VERSION = SHARED_MIGRATIONS.reduce((max, m) => Math.max(max, m.version), 0);

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
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID && format !== 'binary'
          ? (value: string) => Number(value)
          : pg.types.getTypeParser(oid, format as 'text')) as pg.CustomTypesConfig['getTypeParser'],
    },
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

export async function migrateShared(client: pg.PoolClient, location: string): Promise<number[]> {
  const applied: number[] = [];
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [SHARED_MIGRATION_LOCK]);
    await client.query('CREATE TABLE IF NOT EXISTS gatehouse_shared_schema (version integer PRIMARY KEY, what text NOT NULL, applied_at bigint NOT NULL)');
    const { rows } = await client.query<{ version: number }>('SELECT version FROM gatehouse_shared_schema');
    const have = new Set(rows.map((r) => r.version));
    const newest = Math.max(0, ...have);
    if (newest > SHARED_SCHEMA_VERSION) {
      throw new Error(
        `the PostgreSQL database ${location} has shared-state schema version ${newest}; this server knows up to ${SHARED_SCHEMA_VERSION}: upgrade the server`,
      );
    }
    for (const migration of SHARED_MIGRATIONS) {
      if (have.has(migration.version)) continue;
      await client.query(migration.sql);
      await client.query('INSERT INTO gatehouse_shared_schema (version, what, applied_at) VALUES ($1, $2, $3)', [
        migration.version,
        migration.what,
        Date.now(),
      ]);
      applied.push(migration.version);
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
  return applied;
}

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
