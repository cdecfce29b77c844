/**
 * Opens the event store `--store` names (contract-2 §6): SQLite (the embedded default) or
 * PostgreSQL (several instances on one database, docs/cluster.md). Also the local SQLite
 * database: with SQLite it is the store's own file (devices, pairing codes and push
 * subscriptions live there too: sharedState.ts); with PostgreSQL it is
 * `<data-dir>/gatehouse.db`, one per instance, which nothing shared uses any more (the
 * shared state is in the database: contract-2 §6, sharedState.ts).
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { StoreLocation } from '../config.ts';
import { PRIVATE_DIR_MODE, preparePrivateDbFile, tightenDbFiles } from './fileModes.ts';
import { openPostgresStore } from './postgresStore.ts';
import { DB_FILE, SqliteEventStore } from './sqliteStore.ts';
import type { EventStore } from './types.ts';

export type OpenedStore = {
  store: EventStore;
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

export async function openConfiguredStore(location: StoreLocation, dataDir: string, options: { writerLease?: boolean } = {}): Promise<OpenedStore> {
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
  // One writer per database until the bus makes several instances one Gatehouse
  // (docs/cluster.md): a second `serve` is refused instead of serving a diverged memory.
  const store = await openPostgresStore({ url: location.url, exclusive: options.writerLease ?? true });
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
    kind: 'postgres',
    location: store.location,
    localFile,
    localDatabase,
    ping: () => store.ping(),
    closeLocal: () => localDatabase.close(),
  };
}
