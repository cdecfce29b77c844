/**
 * Opens the event store `--store` names (contract-2 §6): SQLite (the embedded default) or
 * PostgreSQL (several instances on one database, docs/cluster.md). Also the local SQLite
 * database for what does not live in the event store yet: with SQLite it is the store's
 * own file; with PostgreSQL it is `<data-dir>/gatehouse.db`, one per instance (device
 * sessions, pairing codes and push subscriptions are then per instance; contract-2 §6
 * wants them in the shared store, which is not done yet).
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { StoreLocation } from '../config.ts';
import { PRIVATE_DIR_MODE, preparePrivateDbFile, tightenDbFiles } from './fileModes.ts';
import { openPostgresStore, type PostgresEventStore } from './postgresStore.ts';
import { DB_FILE, SqliteEventStore } from './sqliteStore.ts';
import type { EventStore } from './types.ts';

export type OpenedStore = {
  store: EventStore;
  /** The PostgreSQL store itself (instances' heartbeats), absent on SQLite. */
  postgres?: PostgresEventStore;
  kind: StoreLocation['kind'];
  /** For /readyz and logs: the file, or the URL without its password. */
  location: string;
  /** The SQLite database for devices and push subscriptions (see above). */
  localFile: string;
  /** A connection to it, for the push subscriptions (push/index.ts). */
  localDatabase: Database.Database;
  /** A round trip to the store: rejects when it cannot answer (for /readyz). */
  ping(): Promise<void>;
  /** Closes the local database (the store is closed on its own, after the host stopped). */
  closeLocal(): void;
};

/** `bus`: several instances joined by a bus share the database (docs/cluster.md). */
export async function openConfiguredStore(location: StoreLocation, dataDir: string, options: { bus?: boolean } = {}): Promise<OpenedStore> {
  if (location.kind === 'sqlite') {
    const store = new SqliteEventStore({ dataDir, file: location.file });
    return {
      store,
      kind: 'sqlite',
      location: location.file,
      localFile: location.file,
      localDatabase: store.database(),
      ping: async () => {
        if (!store.isOpen()) throw new Error('the SQLite store is closed');
      },
      closeLocal: () => {},
    };
  }
  // Without a bus, one writer per database: a second `serve` would serve a memory that
  // never hears of the first one's events, so it is refused (its message says to add
  // --bus). With a bus, any number share it (docs/cluster.md).
  const store = await openPostgresStore({ url: location.url, ...(options.bus ? { shared: true } : { exclusive: true }) });
  const localFile = join(dataDir, DB_FILE);
  let localDatabase: Database.Database;
  try {
    mkdirSync(dataDir, { recursive: true, mode: PRIVATE_DIR_MODE });
    preparePrivateDbFile(localFile);
    localDatabase = new Database(localFile);
    localDatabase.pragma('journal_mode = WAL');
    localDatabase.pragma('synchronous = NORMAL');
    tightenDbFiles(localFile);
  } catch (error) {
    await store.close();
    throw error;
  }
  return {
    store,
    postgres: store,
    kind: 'postgres',
    location: store.location,
    localFile,
    localDatabase,
    ping: () => store.ping(),
    closeLocal: () => localDatabase.close(),
  };
}
