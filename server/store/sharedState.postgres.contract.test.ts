/** The shared-state contract (sharedContract.ts) on PostgreSQL: a new database per test, and
 *  two instances' views of it, each with a pool of its own (SPEC.md TEAM-S). */
import { describe } from 'vitest';
import { PgPushStore } from '../push/pgPushStore.ts';
import { loadOrCreateSharedVapidKeys } from '../push/vapid.ts';
import { PgRuleBook } from '../rules/pgRuleBook.ts';
import { PgDeviceStore } from './pgDeviceStore.ts';
import { runSharedStateContract, type SharedView } from './sharedContract.ts';
import { openSharedPg, type SharedPg } from './sharedPg.ts';
import { createTestDatabase, requirePostgres } from './testing/postgres.ts';

const reachable = await requirePostgres('the PostgreSQL shared-state contract');

describe.skipIf(!reachable)('TEAM-S: the PostgreSQL shared state passes the shared-state contract', () => {
  runSharedStateContract('PostgreSQL', async ({ now }) => {
    const database = await createTestDatabase();
    const pools: SharedPg[] = [];
    const view = async (): Promise<SharedView> => {
      const shared = await openSharedPg({ url: database.url, poolSize: 4 });
      pools.push(shared);
      return {
        devices: new PgDeviceStore(shared.pool, { now }),
        push: new PgPushStore(shared.pool),
        rules: await PgRuleBook.open(shared.pool),
        vapid: () => loadOrCreateSharedVapidKeys(shared.pool),
      };
    };
    return {
      view: await view(),
      other: view,
      async destroy() {
        for (const p of pools) await p.close();
        await database.drop();
      },
    };
  });
});
