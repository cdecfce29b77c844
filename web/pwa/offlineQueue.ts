/**
 * The two halves of "the last known queue": while the link is live, every change of the
 * waiting requests is saved (lastQueue.ts); after a reload that could not connect, the
 * queue view shows the saved copy read-only instead of an empty queue.
 */
import { useEffect, useState } from 'react';
import { ConnectionContext, linkStatus, type ConnectionSnapshot } from '../state/connection.ts';
import { loadLastQueue, saveLastQueue, type LastQueue } from './lastQueue.ts';

/** What keepLastQueue needs of the connection actor. */
export type QueueSource = { subscribe(listener: (snapshot: ConnectionSnapshot) => void): { unsubscribe(): void } };

/** Saves the waiting requests whenever they change while connected (never from a stale
 *  state: while reconnecting the saved copy stays what the server last said). Returns the
 *  unsubscribe. */
export function keepLastQueue(actor: QueueSource, save: (value: LastQueue) => Promise<void> = saveLastQueue, now: () => number = Date.now): () => void {
  let savedKey: string | null = null;
  const subscription = actor.subscribe((snapshot) => {
    if (linkStatus(snapshot) !== 'connected') return;
    const { order, cards } = snapshot.context.queue;
    // A request's content never changes under its id: the ids in order say it all.
    const key = order.join('\n');
    if (key === savedKey) return;
    savedKey = key;
    void save({ savedAt: now(), requests: order.flatMap((id) => cards[id]?.request ?? []) });
  });
  return () => subscription.unsubscribe();
}

export function KeepLastQueue(): null {
  const actor = ConnectionContext.useActorRef();
  useEffect(() => keepLastQueue(actor), [actor]);
  return null;
}

/** True while this page has never been connected and cannot connect now: then the saved
 *  copy is all there is (once connected, the live queue is the truth, also while away). */
export function useShowLastKnownQueue(): boolean {
  return ConnectionContext.useSelector((s) => {
    if (s.context.epoch !== null) return false;
    const status = linkStatus(s);
    return !s.context.online || status === 'reconnecting' || status === 'offline';
  });
}

export type Saved = { state: 'loading' } | { state: 'none' } | { state: 'saved'; value: LastQueue };

export function useLastQueue(): Saved {
  const [saved, setSaved] = useState<Saved>({ state: 'loading' });
  useEffect(() => {
    let live = true;
    void loadLastQueue().then((value) => live && setSaved(value ? { state: 'saved', value } : { state: 'none' }));
    return () => {
      live = false;
    };
  }, []);
  return saved;
}
