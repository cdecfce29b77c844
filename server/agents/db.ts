/**
 * The agents area's own SQLite database (`<data-dir>/agents.db`): chat sessions and their
 * messages. Separate from the event store so that its schema can change without touching
 * the stream; WAL and synchronous writes, so an acknowledged message survives kill -9.
 *
 * Remembered rules and the audit log lived here before SPEC.md CORE-L2/CORE-L8: they now
 * live in the event database (`gatehouse.db`: the audit rows written with their events,
 * the rules beside them), and an existing agents.db has its rules and audit rows
 * imported there once (`importAgentsRules`, `SqliteEventStore.importLegacyAudit`). The
 * tables stay in this schema so that an old file still opens and imports.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { PRIVATE_DIR_MODE, preparePrivateDbFile, tightenDbFiles } from '../store/fileModes.ts';

export type AgentsDb = Database.Database;

/** The remembered rules' tables (server/rules/ruleStore.ts). */
export const RULES_SCHEMA = `
CREATE TABLE IF NOT EXISTS rules (
  id TEXT PRIMARY KEY,
  tool_name TEXT NOT NULL,
  pattern TEXT NOT NULL,
  kind TEXT NOT NULL,
  decision TEXT NOT NULL,
  scope TEXT NOT NULL,
  scope_value TEXT,
  created_at INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  source_request_id TEXT,
  revoked_at INTEGER
);
CREATE TABLE IF NOT EXISTS rules_migrations (name TEXT PRIMARY KEY, at INTEGER NOT NULL);
`;

const SCHEMA = `${RULES_SCHEMA}
CREATE TABLE IF NOT EXISTS audit (
  request_id TEXT PRIMARY KEY,
  tool_name TEXT NOT NULL,
  input TEXT NOT NULL,
  session_id TEXT,
  agent TEXT,
  cwd TEXT,
  requested_at INTEGER NOT NULL,
  status TEXT,
  decision TEXT,
  how TEXT,
  decided_by TEXT,
  via TEXT,
  address TEXT,
  message TEXT,
  rule_id TEXT,
  decided_at INTEGER
);
CREATE INDEX IF NOT EXISTS audit_requested ON audit (requested_at);
CREATE TABLE IF NOT EXISTS sessions (
  id TEXT PRIMARY KEY,
  title TEXT NOT NULL,
  agent TEXT NOT NULL,
  cwd TEXT NOT NULL,
  status TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  sdk_session_id TEXT
);
CREATE TABLE IF NOT EXISTS messages (
  session_id TEXT NOT NULL,
  position INTEGER NOT NULL,
  seq INTEGER,
  body TEXT NOT NULL,
  timestamp INTEGER NOT NULL,
  PRIMARY KEY (session_id, position)
);
`;

export function openAgentsDb(path: string): AgentsDb {
  if (path !== ':memory:') {
    mkdirSync(dirname(path), { recursive: true, mode: PRIVATE_DIR_MODE });
    // 0600, and so its -wal/-shm (SQLite gives them the database file's mode).
    preparePrivateDbFile(path);
  }
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  if (path !== ':memory:') tightenDbFiles(path);
  db.pragma('synchronous = NORMAL');
  db.exec(SCHEMA);
  migrate(db);
  return db;
}

/** Columns added after the first release: added to an existing database, once. */
function migrate(db: AgentsDb): void {
  const audit = new Set((db.prepare('PRAGMA table_info(audit)').all() as { name: string }[]).map((c) => c.name));
  // The device that decided (docs/operations.md "Devices").
  if (!audit.has('device_id')) db.exec('ALTER TABLE audit ADD COLUMN device_id TEXT');
  if (!audit.has('device_name')) db.exec('ALTER TABLE audit ADD COLUMN device_name TEXT');
}

const RULE_COLUMNS = 'id, tool_name, pattern, kind, decision, scope, scope_value, created_at, created_by, source_request_id, revoked_at';
const IMPORTED = 'imported-from-agents-db';

/**
 * Gives `target` (the event database) the rules tables and, once, the rules of an
 * agents.db from before CORE-L8 with its migration marks (so a migration that already ran
 * there does not run again on rules made since). Returns how many rules it added; the
 * mark is a row in `rules_migrations`, written in the same transaction.
 */
export function importAgentsRules(target: Database.Database, agents: AgentsDb): number {
  target.exec(RULES_SCHEMA);
  if (target.prepare('SELECT 1 FROM rules_migrations WHERE name = ?').get(IMPORTED)) return 0;
  const rules = agents.prepare(`SELECT ${RULE_COLUMNS} FROM rules`).all() as Record<string, unknown>[];
  const marks = agents.prepare('SELECT name, at FROM rules_migrations').all() as { name: string; at: number }[];
  let added = 0;
  target.transaction(() => {
    const insertRule = target.prepare(
      `INSERT OR IGNORE INTO rules (${RULE_COLUMNS}) VALUES (@id, @tool_name, @pattern, @kind, @decision, @scope, @scope_value, @created_at, @created_by, @source_request_id, @revoked_at)`,
    );
    for (const rule of rules) added += insertRule.run(rule).changes;
    const insertMark = target.prepare('INSERT OR IGNORE INTO rules_migrations (name, at) VALUES (?, ?)');
    for (const mark of marks) insertMark.run(mark.name, mark.at);
    insertMark.run(IMPORTED, Date.now());
  })();
  return added;
}
