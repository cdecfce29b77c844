/**
 * The outbox kept across a reload (docs/ui.md, "Offline decisions"): every decision this
 * page made that the server has not acknowledged yet (taken offline, or sent and not
 * answered) is written to IndexedDB, beside the last known queue, whenever the outbox
 * changes; a reloaded page reads it back before it connects (`queue.restore`), and the
 * connection sends each again with its own clientMsgId once it has caught up, so the
 * server counts it at most once. Read back through the protocol's schema (the store is an
 * edge); entries older than a request can live are dropped. Kept per tab (`tabKey`);
 * an emptied outbox deletes its record, so only tabs closed with undelivered decisions
 * leave one behind (never sent by another tab). Every failure reads as
 * "nothing kept", never as an error on the page.
 */
import { z } from 'zod';
import { LIMITS, parseWith, permissionResponse } from '../../protocol/index.ts';
import type { OutboxEntry } from '../../machines/queue.ts';
import type { QueueSource } from './offlineQueue.ts';
import { withStore } from './lastQueue.ts';

/** Each tab keeps its own outbox: two tabs of the app share IndexedDB, and one tab's
 *  (empty) outbox must not overwrite another's. The tab's id lives in sessionStorage,
 *  which a reload of the same tab keeps and a new tab does not share. */
const KEY_PREFIX = 'outbox:';
const TAB_KEY = 'gatehouse-tab';

function tabKey(): string {
  try {
    let id = sessionStorage.getItem(TAB_KEY);
    if (!id) {
      id = crypto.randomUUID();
      sessionStorage.setItem(TAB_KEY, id);
    }
    return KEY_PREFIX + id;
  } catch {
    return `${KEY_PREFIX}shared`;
  }
}

export const keptOutbox = z.object({
  savedAt: z.number(),
  entries: z.array(z.object({ clientMsgId: z.string().min(1), requestId: z.string().min(1), frame: permissionResponse, sent: z.boolean() })),
});
export type KeptOutbox = z.infer<typeof keptOutbox>;

export async function saveOutbox(value: KeptOutbox): Promise<void> {
  try {
    const key = tabKey();
    if (value.entries.length > 0) await withStore('readwrite', (store) => store.put(value, key));
    else await withStore('readwrite', (store) => store.delete(key));
  } catch {
    // The app works without it; only a reload would lose the undelivered decision.
  }
}

/** What was kept, unless it is older than any request can wait (then nothing it names can still count). */
export async function loadOutbox(now: number = Date.now()): Promise<OutboxEntry[]> {
  try {
    const raw = await withStore('readonly', (store) => store.get(tabKey()) as IDBRequest<unknown>);
    if (raw === undefined) return [];
    const parsed = parseWith(keptOutbox, raw);
    if (!parsed.ok || now - parsed.value.savedAt > LIMITS.maxTimeoutMs) return [];
    return parsed.value.entries.filter((e) => e.frame.requestId === e.requestId && e.frame.clientMsgId === e.clientMsgId);
  } catch {
    return [];
  }
}

/** Saves the outbox whenever it changes (also to empty it once everything was answered). */
export function keepOutbox(actor: QueueSource, save: (value: KeptOutbox) => Promise<void> = saveOutbox, now: () => number = Date.now): () => void {
  let savedKey: string | null = null;
  const subscription = actor.subscribe((snapshot) => {
    const { outbox } = snapshot.context.queue;
    const key = outbox.map((e) => `${e.clientMsgId}:${e.sent}`).join('\n');
    if (key === savedKey) return;
    savedKey = key;
    void save({ savedAt: now(), entries: outbox.map((e) => ({ clientMsgId: e.clientMsgId, requestId: e.requestId, frame: e.frame, sent: e.sent })) });
  });
  return () => subscription.unsubscribe();
}
