/** The shared-state contract (sharedContract.ts) on SQLite: one instance, a new data directory per test. */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe } from 'vitest';
import { RULES_SCHEMA } from '../agents/db.ts';
import { SqlitePushStore } from '../push/pushStore.ts';
import { loadOrCreateVapidKeys } from '../push/vapid.ts';
import { RuleStore } from '../rules/ruleStore.ts';
import { SqliteDeviceStore } from './deviceStore.ts';
import { runSharedStateContract } from './sharedContract.ts';
import { DB_FILE } from './sqliteStore.ts';

describe('TEAM-S: the SQLite shared state passes the shared-state contract', () => {
  runSharedStateContract('SQLite', async ({ now }) => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-shared-'));
    const file = join(dir, DB_FILE);
    const devices = new SqliteDeviceStore({ dataDir: dir, file, now });
    const db = new Database(file);
    db.exec(RULES_SCHEMA);
    return {
      view: { devices, push: new SqlitePushStore(db), rules: new RuleStore(db), vapid: async () => loadOrCreateVapidKeys(dir) },
      async destroy() {
        await devices.close();
        db.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  });
});
