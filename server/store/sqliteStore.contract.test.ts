/** The store contract (contract.ts) on SQLite: a file in a new temporary directory per test. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runStoreContract, type StoreUnderTest } from './contract.ts';
import { openSqliteStore } from './sqliteStore.ts';
import type { EventStore } from './types.ts';

runStoreContract('SQLite', async ({ epoch }): Promise<StoreUnderTest> => {
  const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-contract-'));
  const options = { dataDir, ...(epoch !== undefined ? { epoch } : {}) };
  let current: EventStore = await openSqliteStore(options);
  return {
    get store() {
      return current;
    },
    async reopen() {
      await current.close();
      current = await openSqliteStore(options);
      return current;
    },
    async destroy() {
      await current.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
});
