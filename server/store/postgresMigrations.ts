/**
 * The PostgreSQL store's schema, as numbered migrations (SPEC.md TEAM-2). Each migration
 * runs once, in its own transaction, and records its number in `gatehouse_schema`; every
 * instance runs `migrate` when it opens the store, under an advisory lock, so instances
 * starting at the same moment apply each migration exactly once and the others find it
 * done. A database with a number this server does not know is refused (a newer server
 * migrated it).
 *
 * JSON is kept as `text`, not `jsonb`: the events must read back exactly as written
 * (jsonb reorders keys and refuses `\u0000` in strings), and nothing queries inside it.
 * Times and seqs are `bigint` (milliseconds since 1970 exceed `integer`).
 */
import type pg from 'pg';

/** `pg_advisory_xact_lock` key: "gatehouse" in ASCII, a constant no other tool uses. */
const MIGRATION_LOCK = 0x6761746568;

export type Migration = { version: number; what: string; sql: string };

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    what: 'events, log head, requests, clientMsgId answers, audit',
    sql: `
CREATE TABLE meta (key text PRIMARY KEY, value text NOT NULL);
-- One row: the head of the log and how far it was pruned. Every append updates it in its
-- own transaction, guarded by the head it expects (the seq race, SPEC.md TEAM-3).
CREATE TABLE log_head (
  id boolean PRIMARY KEY DEFAULT true CHECK (id),
  head bigint NOT NULL,
  pruned_through bigint NOT NULL
);
CREATE TABLE events (
  seq bigint PRIMARY KEY,
  type text NOT NULL,
  payload text NOT NULL,
  time bigint NOT NULL
);
CREATE TABLE requests (
  id text PRIMARY KEY,
  seq bigint NOT NULL UNIQUE,
  tool_name text NOT NULL,
  input text NOT NULL,
  context text NOT NULL,
  created bigint NOT NULL,
  expires_at bigint NOT NULL,
  status text NOT NULL CHECK (status IN ('pending', 'resolved', 'timedOut', 'cancelled')),
  decision text,
  updated_input text,
  message text,
  decided_by text,
  decided_at bigint,
  reason text,
  outcome_seq bigint,
  origin text NOT NULL,
  idempotency_key text UNIQUE,
  body_hash text,
  CHECK ((status = 'pending') = (outcome_seq IS NULL))
);
CREATE INDEX requests_status_seq ON requests (status, seq);
CREATE TABLE client_answers (
  client_msg_id text PRIMARY KEY,
  request_id text NOT NULL,
  answer text NOT NULL,
  ord bigserial NOT NULL
);
CREATE INDEX client_answers_request ON client_answers (request_id);
-- COLLATE "C": audit pages sort and walk by request id byte-wise, as SQLite does,
-- whatever the database's locale.
CREATE TABLE audit (
  request_id text COLLATE "C" PRIMARY KEY,
  tool_name text NOT NULL,
  input text,
  session_id text,
  agent text,
  cwd text,
  requested_at bigint NOT NULL,
  status text,
  decision text,
  how text,
  decided_by text,
  via text,
  address text,
  message text,
  rule_id text,
  decided_at bigint,
  device_id text,
  device_name text
);
CREATE INDEX audit_requested ON audit (requested_at, request_id);
`,
  },
  {
    version: 2,
    what: "agents' homes: each request row's instance, and the instances' heartbeats",
    sql: `
-- The instance that made the request (docs/cluster.md, "Agents' homes"): when it dies, a
-- surviving instance cancels its agent requests; NULL for rows made before this column.
ALTER TABLE requests ADD COLUMN instance_id text;
CREATE INDEX requests_pending_agent ON requests (instance_id) WHERE status = 'pending' AND origin = 'agent';
-- One row per running instance, its heartbeat on the database's clock (ms).
CREATE TABLE instances (
  id text PRIMARY KEY,
  started_at bigint NOT NULL,
  heartbeat_at bigint NOT NULL
);
`,
  },
];

export const SCHEMA_VERSION = MIGRATIONS.reduce((max, m) => Math.max(max, m.version), 0);

/** A numbered list of migrations, recorded in its own table under its own advisory lock
 *  (the log's here; the shared state's in sharedPg.ts). */
export type MigrationList = { table: string; lock: number; migrations: readonly Migration[]; name: string };

/** Applies the list's missing migrations in one transaction under its lock; returns the
 *  versions it applied (none when current); refuses a database a newer server migrated. */
export async function applyMigrations(client: pg.PoolClient, list: MigrationList, location: string): Promise<number[]> {
  const known = list.migrations.reduce((max, m) => Math.max(max, m.version), 0);
  const applied: number[] = [];
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [list.lock]);
    await client.query(`CREATE TABLE IF NOT EXISTS ${list.table} (version integer PRIMARY KEY, what text NOT NULL, applied_at bigint NOT NULL)`);
    const { rows } = await client.query<{ version: number }>(`SELECT version FROM ${list.table}`);
    const have = new Set(rows.map((r) => r.version));
    const newest = Math.max(0, ...have);
    if (newest > known) {
      throw new Error(`the PostgreSQL database ${location} has ${list.name} version ${newest}; this server knows up to ${known}: upgrade the server`);
    }
    for (const migration of list.migrations) {
      if (have.has(migration.version)) continue;
      await client.query(migration.sql);
      await client.query(`INSERT INTO ${list.table} (version, what, applied_at) VALUES ($1, $2, $3)`, [migration.version, migration.what, Date.now()]);
      applied.push(migration.version);
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
  return applied;
}

/** The log's migrations (SPEC.md TEAM-2). */
export const migrate = (client: pg.PoolClient, location: string): Promise<number[]> =>
  applyMigrations(client, { table: 'gatehouse_schema', lock: MIGRATION_LOCK, migrations: MIGRATIONS, name: 'schema' }, location);
