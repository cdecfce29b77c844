/**
 * Small ordered structures for the broker whose operations stay O(1) amortized however
 * many requests are waiting.
 *
 * Why not a Map drained from its front: V8's Map keeps deleted slots until it rehashes,
 * and every new iterator walks over them again, so "delete the oldest" on a Map of 10k
 * entries costs microseconds per call and grows with the size (measured here: about
 * 10 us at 10k entries, 90 us at 100k).
 */

/** An entry of the unresolved-request index: ordered by `seq`, marked dead when finished. */
export type SeqEntry = { readonly seq: number; live: boolean };

/**
 * Unresolved requests in increasing `seq`, with three cursors that only ever walk over
 * each entry a bounded number of times:
 * - `sent`: entries before it were told `request.sent`;
 * - `acked`: entries before it were told `request.acked` (some client held them once);
 * - `held`: entries before it have `seq <= holdSeq`, the highest ack among the clients
 *   connected now; `processing` counts the live ones among them.
 * Finished entries stay in place (marked dead) until a compaction drops them.
 */
export class SeqIndex<E extends SeqEntry> {
  private entries: E[] = [];
  private sentCursor = 0;
  private ackedCursor = 0;
  private heldCursor = 0;
  private dead = 0;
  /** Live entries with `seq <= holdSeq`. */
  processing = 0;
  /** The highest seq a connected client holds. */
  holdSeq = 0;
  /** The highest seq ever marked sent / acked: an entry at or below it was told so. */
  private sentUpTo = 0;
  private ackedUpTo = 0;

  /** @param compactAfter how many dead entries may pile up (tests make it small). */
  constructor(private readonly compactAfter = 1024) {}

  /** Append a new entry; its seq must be higher than every seq already in, and higher
   *  than `holdSeq` (the broker clamps acks to its head, so a new seq always is). */
  push(entry: E): void {
    this.entries.push(entry);
  }

  /** Mark a live entry finished. */
  finish(entry: E): void {
    if (!entry.live) return;
    entry.live = false;
    this.dead++;
    if (entry.seq <= this.holdSeq) this.processing--;
    if (this.dead > this.compactAfter && this.dead * 2 > this.entries.length) this.compact();
  }

  /** Walk the live entries with seq <= upTo not yet marked sent. */
  markSent(upTo: number, visit: (entry: E) => void): void {
    if (upTo > this.sentUpTo) this.sentUpTo = upTo;
    const entries = this.entries;
    let i = this.sentCursor;
    for (let entry = entries[i]; entry !== undefined && entry.seq <= upTo; entry = entries[++i]) {
      if (entry.live) visit(entry);
    }
    this.sentCursor = i;
  }

  /** Walk the live entries with seq <= upTo not yet marked acked. */
  markAcked(upTo: number, visit: (entry: E) => void): void {
    if (upTo > this.ackedUpTo) this.ackedUpTo = upTo;
    const entries = this.entries;
    let i = this.ackedCursor;
    for (let entry = entries[i]; entry !== undefined && entry.seq <= upTo; entry = entries[++i]) {
      if (entry.live) visit(entry);
    }
    this.ackedCursor = i;
    // An acked request needs no `request.sent` any more.
    if (this.sentCursor < i) this.sentCursor = i;
  }

  /** Where an entry is on its way to a client, from the watermarks alone (O(1)): what its
   *  actor would say had it been told every `request.sent`/`request.acked` so far. */
  deliveryOf(entry: E): 'pending' | 'sent' | 'acked' {
    if (entry.seq <= this.ackedUpTo) return 'acked';
    if (entry.seq <= this.sentUpTo) return 'sent';
    return 'pending';
  }

  /** Move the "held by a connected client" watermark, up or down. */
  setHoldSeq(holdSeq: number): void {
    if (holdSeq === this.holdSeq) return;
    const entries = this.entries;
    let i = this.heldCursor;
    for (let entry = entries[i]; entry !== undefined && entry.seq <= holdSeq; entry = entries[++i]) {
      if (entry.live) this.processing++;
    }
    for (let before = entries[i - 1]; before !== undefined && before.seq > holdSeq; before = entries[i - 1]) {
      i--;
      if (before.live) this.processing--;
    }
    this.heldCursor = i;
    this.holdSeq = holdSeq;
  }

  /** Drop dead entries; cursors keep their meaning. O(n), amortized over the finishes. */
  private compact(): void {
    const old = this.entries;
    const next: E[] = [];
    // A cursor's new position is the number of live entries before its old one.
    let sent = 0;
    let acked = 0;
    let held = 0;
    for (let i = 0; i < old.length; i++) {
      const entry = old[i]!; // i < old.length
      if (!entry.live) continue;
      if (i < this.sentCursor) sent++;
      if (i < this.ackedCursor) acked++;
      if (i < this.heldCursor) held++;
      next.push(entry);
    }
    this.entries = next;
    this.sentCursor = sent;
    this.ackedCursor = acked;
    this.heldCursor = held;
    this.dead = 0;
  }
}

/** A bounded first-in first-out window keyed by string, with O(1) eviction. */
export class BoundedWindow<V> {
  private readonly map = new Map<string, V>();
  private order: string[] = [];
  private head = 0;

  constructor(
    readonly limit: number,
    private readonly onEvict?: (key: string, value: V) => void,
  ) {}

  get size(): number {
    return this.map.size;
  }

  get(key: string): V | undefined {
    return this.map.get(key);
  }

  has(key: string): boolean {
    return this.map.has(key);
  }

  /** Add (a key already in keeps its place and takes the new value). */
  set(key: string, value: V): void {
    if (!this.map.has(key)) this.order.push(key);
    this.map.set(key, value);
    while (this.map.size > this.limit) {
      const oldest = this.order[this.head++];
      if (oldest === undefined) break; // not reached: every key in the map is in order
      const evicted = this.map.get(oldest);
      this.map.delete(oldest);
      if (evicted !== undefined) this.onEvict?.(oldest, evicted);
    }
    if (this.head > 1024 && this.head * 2 > this.order.length) {
      this.order = this.order.slice(this.head);
      this.head = 0;
    }
  }

  /** Oldest first. */
  values(): IterableIterator<V> {
    return this.map.values();
  }
}

/** One deadline in a `DeadlineHeap`: `at` is when the broker acts on it (broker.machine.ts,
 *  `timeoutDueAt`); its place is kept on it, so it can be removed. */
export type DeadlineEntry = { readonly at: number; readonly id: string; readonly order: number; index: number };

/** A deadline that is not a number (a corrupt row) counts as passed: the request times
 *  out at once rather than never. */
function dueAt(at: number): number {
  return Number.isNaN(at) ? Number.NEGATIVE_INFINITY : at;
}

/** Earliest deadline first; equal ones in the order they were added (for requests, seq order). */
function earlier(a: DeadlineEntry, b: DeadlineEntry): boolean {
  return a.at < b.at || (a.at === b.at && a.order < b.order);
}

/** A min-heap of the unresolved requests' deadlines (see broker.machine.ts, "One timer
 *  for every deadline"): push, pop and remove in O(log n), built from n entries in O(n).
 *  Each entry knows its index, so a request that finishes takes its deadline out at once
 *  (a finished request's entry would otherwise stay until its deadline, up to a day). */
export class DeadlineHeap {
  private readonly items: DeadlineEntry[] = [];
  private added = 0;

  get size(): number {
    return this.items.length;
  }

  /** Add many at once (restore): heapify once instead of n pushes. The entries, in order. */
  fill(entries: Iterable<{ at: number; id: string }>): DeadlineEntry[] {
    const added: DeadlineEntry[] = [];
    for (const entry of entries) {
      const item: DeadlineEntry = { at: dueAt(entry.at), id: entry.id, order: this.added++, index: this.items.length };
      this.items.push(item);
      added.push(item);
    }
    for (let i = (this.items.length >> 1) - 1; i >= 0; i--) this.down(i);
    return added;
  }

  push(at: number, id: string): DeadlineEntry {
    const item: DeadlineEntry = { at: dueAt(at), id, order: this.added++, index: this.items.length };
    this.items.push(item);
    this.up(item.index);
    return item;
  }

  peek(): DeadlineEntry | undefined {
    return this.items[0];
  }

  pop(): DeadlineEntry | undefined {
    const top = this.items[0];
    if (top !== undefined) this.remove(top);
    return top;
  }

  /** Takes `entry` out; an entry not (or no longer) in this heap is left alone. */
  remove(entry: DeadlineEntry): void {
    const items = this.items;
    const at = entry.index;
    if (items[at] !== entry) return;
    const last = items.pop();
    entry.index = -1;
    if (last === undefined || last === entry) return;
    items[at] = last;
    last.index = at;
    this.up(at);
    this.down(last.index);
  }

  private swap(i: number, j: number): void {
    const items = this.items;
    const a = items[i];
    const b = items[j];
    if (a === undefined || b === undefined) return;
    items[i] = b;
    b.index = i;
    items[j] = a;
    a.index = j;
  }

  private up(index: number): void {
    const items = this.items;
    let i = index;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const child = items[i];
      const above = items[parent];
      if (child === undefined || above === undefined || !earlier(child, above)) return;
      this.swap(i, parent);
      i = parent;
    }
  }

  private down(index: number): void {
    const items = this.items;
    let i = index;
    for (;;) {
      let smallest = i;
      const left = items[2 * i + 1];
      const right = items[2 * i + 2];
      const current = items[i];
      if (left !== undefined && current !== undefined && earlier(left, current)) smallest = 2 * i + 1;
      const best = items[smallest];
      if (right !== undefined && best !== undefined && earlier(right, best)) smallest = 2 * i + 2;
      if (smallest === i) return;
      this.swap(i, smallest);
      i = smallest;
    }
  }
}
