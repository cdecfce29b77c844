/**
 * The last queue this device saw while connected, kept in IndexedDB so that a reload
 * without a network (the service worker serves the shell) can still show what was
 * waiting, read-only. Only the waiting requests are kept (what the queue view showed),
 * replaced as a whole on every change and read back through the protocol's schema: the
 * store is an edge like the socket. `forgetLastQueue` is for a device that loses its
 * access. Every failure (no IndexedDB, private mode, a broken record) reads as "nothing
 * saved", never as an error on the page.
 */
import { z } from 'zod';
import { parseWith, permissionRequestEvent } from '../../protocol/index.ts';

const DB_NAME = 'gatehouse';
const STORE = 'offline';
const KEY = 'last-queue';

export const lastQueue = z.object({ savedAt: z.number(), requests: z.array(permissionRequestEvent) });
export type LastQueue = z.infer<typeof lastQueue>;

function openDb(factory: IDBFactory = indexedDB): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = factory.open(DB_NAME, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
    request.onblocked = () => reject(new Error('IndexedDB blocked'));
  });
}

export async function withStore<T>(mode: IDBTransactionMode, run: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await openDb();
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const request = run(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

export async function saveLastQueue(value: LastQueue): Promise<void> {
  try {
    await withStore('readwrite', (store) => store.put(value, KEY));
  } catch {
    // Nothing to do: the app works without it, only the offline copy is missing.
  }
}

export async function loadLastQueue(): Promise<LastQueue | null> {
  try {
    const raw = await withStore('readonly', (store) => store.get(KEY) as IDBRequest<unknown>);
    if (raw === undefined) return null;
    const parsed = parseWith(lastQueue, raw);
    return parsed.ok ? parsed.value : null;
  } catch {
    return null;
  }
}

export async function forgetLastQueue(): Promise<void> {
  try {
    await withStore('readwrite', (store) => store.delete(KEY));
  } catch {
    // already gone or no IndexedDB
  }
}
