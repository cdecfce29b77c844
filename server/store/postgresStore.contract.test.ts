/** The store contract (contract.ts) on PostgreSQL: a new database per test (SPEC.md TEAM-1). */
import { describe } from 'vitest';
import { runStoreContract, type StoreUnderTest } from './contract.ts';
import { openPostgresStore } from './postgresStore.ts';
import { createTestDatabase, requirePostgres } from './testing/postgres.ts';
import type { EventStore } from './types.ts';

const reachable = await requirePostgres('the PostgreSQL store contract');

describe.skipIf(!reachable)('TEAM-1: the PostgreSQL store passes the store contract', () => {
  runStoreContract('PostgreSQL', async ({ epoch }): Promise<StoreUnderTest> => {
    const database = await createTestDatabase();
    const options = { url: database.url, poolSize: 4, ...(epoch !== undefined ? { epoch } : {}) };
    let current: EventStore = await openPostgresStore(options);
    return {
      get store() {
        return current;
      },
      async reopen() {
        await current.close();
        current = await openPostgresStore(options);
        return current;
      },
      async destroy() {
        await current.close();
        await database.drop();
      },
    };
  });
});
