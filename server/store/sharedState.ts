/**
 * Where the state beside the log lives (contract-2 §6): device sessions, pairing codes,
 * push subscriptions and claims, the VAPID key pair, remembered rules, and the history
 * query. With SQLite (one instance) they stay where they were: the store's database file
 * and the data directory's `vapid.json`, rules in the agents plugin's SQLite tables. With
 * PostgreSQL they live in the shared database (sharedPg.ts), so every instance on it sees
 * the same devices, codes, subscriptions, key pair and rules (SPEC.md TEAM-S).
 */
import type Database from 'better-sqlite3';
import { type FinishedBefore, pgFinishedBefore, sqliteFinishedBefore } from '../http/history.ts';
import { PgPushStore } from '../push/pgPushStore.ts';
import { type PushStore, SqlitePushStore } from '../push/pushStore.ts';
import { type LoadedVapidKeys, loadOrCreateSharedVapidKeys, loadOrCreateVapidKeys } from '../push/vapid.ts';
import { PgRuleBook } from '../rules/pgRuleBook.ts';
import type { RuleBook } from '../rules/ruleStore.ts';
import { type DeviceStore, SqliteDeviceStore } from './deviceStore.ts';
import { PgDeviceStore } from './pgDeviceStore.ts';
import { openSharedPg } from './sharedPg.ts';

export type SharedState = {
  /** `local`: one instance's SQLite; `shared`: every instance's PostgreSQL. */
  kind: 'local' | 'shared';
  devices: DeviceStore;
  push: PushStore;
  vapid: LoadedVapidKeys;
  /** Shared only (local: the agents plugin keeps its SQLite rules). */
  rules?: RuleBook;
  finishedBefore: FinishedBefore;
  close(): Promise<void>;
};

export function openLocalState(options: { dataDir: string; file: string; database: Database.Database }): SharedState {
  const devices = new SqliteDeviceStore({ dataDir: options.dataDir, file: options.file });
  return {
    kind: 'local',
    devices,
    push: new SqlitePushStore(options.database),
    vapid: loadOrCreateVapidKeys(options.dataDir),
    finishedBefore: sqliteFinishedBefore(options.database),
    close: () => devices.close(),
  };
}

export async function openSharedState(options: { url: string }): Promise<SharedState> {
  const shared = await openSharedPg({ url: options.url });
  try {
    const devices = new PgDeviceStore(shared.pool);
    const [vapid, rules] = await Promise.all([loadOrCreateSharedVapidKeys(shared.pool), PgRuleBook.open(shared.pool)]);
    return {
      kind: 'shared',
      devices,
      push: new PgPushStore(shared.pool),
      vapid,
      rules,
      finishedBefore: pgFinishedBefore(shared.pool),
      close: async () => {
        await devices.close();
        await rules.settled().catch(() => {});
        await shared.close();
      },
    };
  } catch (error) {
    await shared.close();
    throw error;
  }
}
