/**
 * The opencode bridge's state (`bin/gatehouse opencode --url URL`; docs/integrations.md,
 * "opencode"): which of opencode's permission asks are waiting for Gatehouse, and what
 * was replied. Events come in from the SSE reader (never awaited: a slow Gatehouse never
 * blocks the stream); each ask becomes one Gatehouse request, its outcome one reply.
 * - `permission.asked`: a Gatehouse request; its outcome is replied (permission.ts).
 * - `permission.replied` for an ask still waiting: another opencode client answered
 *   first; the Gatehouse request is cancelled with reason `answered-in-agent`.
 * - after every (re)connect, `resync` with opencode's list of pending asks: a new one is
 *   asked, one we answered but whose reply was lost is replied again, and a waiting one
 *   that is gone was answered elsewhere while we were away (cancelled likewise).
 * I/O is injected (deps), so this runs in unit tests without opencode or Gatehouse.
 */
import { randomUUID } from 'node:crypto';
import type { AskOutcome, AskSpec } from '../client/ask.ts';
import { parseAsk, parseEvent, replyOf, requestSpecOf, type OpencodeAsk, type OpencodeReply } from './permission.ts';

export const OPENCODE_CANCEL_REASON = 'answered-in-agent';

export type BridgeDeps = {
  /** Ask Gatehouse; `onCreated` gets the request id as soon as it exists. */
  ask(spec: AskSpec, onCreated: (requestId: string) => void, signal: AbortSignal): Promise<AskOutcome>;
  /** Cancel a Gatehouse request with a reason (best effort). */
  cancel(requestId: string, reason: string): Promise<void>;
  /** `POST /permission/:id/reply`; resolves true when opencode took it. */
  reply(permissionId: string, body: OpencodeReply): Promise<boolean>;
  log(message: string): void;
  /** opencode's project folder, for the request's `cwd` (read at connect). */
  cwd?: () => string | undefined;
  /** At most this many asks wait at once; more are rejected at once (default 256). */
  maxWaiting?: number;
};

type Entry = {
  ask: OpencodeAsk;
  spec: AskSpec;
  done: boolean;
  requestId?: string | undefined;
  cancelReason?: string;
  controller: AbortController;
  asked: Promise<void>;
};

/** How long to wait for a request id before plain-cancelling. */
const ID_WAIT_MS = 3000;
/** Replies remembered (to resend one opencode did not get): the newest this many. */
const ANSWERED_KEPT = 1000;

export class OpencodeBridge {
  private readonly waiting = new Map<string, Entry>();
  private readonly answered = new Map<string, OpencodeReply>();
  /** Idempotency keys: unique per process and ask, and short whatever opencode's ids are. */
  private readonly prefix = `opencode-${randomUUID()}`;
  private asks = 0;
  private closed = false;

  constructor(private readonly deps: BridgeDeps) {}

  /** One event of the stream (its parsed `data:` JSON). */
  onEvent(data: unknown): void {
    const event = parseEvent(data);
    switch (event.kind) {
      case 'asked':
        this.onAsked(event.ask, false);
        return;
      case 'replied':
        this.onReplied(event.requestId, `answered in opencode (${event.reply ?? 'reply'})`);
        return;
      case 'unreadable-ask':
        this.unreadable(event.id, event.error);
        return;
      case 'other':
        return;
      default: {
        const never: never = event;
        return never;
      }
    }
  }

  /** After a (re)connect: opencode's list of pending asks (`GET /permission`). */
  resync(list: unknown[]): void {
    const present = new Set<string>();
    for (const item of list) {
      const parsed = parseAsk(item);
      if (!parsed.ok) {
        const id = typeof (item as { id?: unknown })?.id === 'string' ? (item as { id: string }).id : undefined;
        if (id) present.add(id);
        if (id && !this.waiting.has(id) && !this.answered.has(id)) this.unreadable(id, parsed.error);
        continue;
      }
      present.add(parsed.value.id);
      this.onAsked(parsed.value, true);
    }
    for (const [id] of [...this.waiting]) if (!present.has(id)) this.onReplied(id, 'no longer pending in opencode (answered elsewhere while disconnected)');
  }

  /** How many asks wait for Gatehouse (for tests and logs). */
  get size(): number {
    return this.waiting.size;
  }

  /** Stop: every waiting Gatehouse request is given up (the asks stay pending in
   *  opencode, for its own UI to answer: nothing is allowed). */
  async close(): Promise<void> {
    this.closed = true;
    const waits: Promise<void>[] = [];
    for (const entry of this.waiting.values()) {
      entry.done = true;
      entry.controller.abort();
      waits.push(entry.asked);
    }
    this.waiting.clear();
    await Promise.allSettled(waits);
  }

  private onAsked(ask: OpencodeAsk, fromList: boolean): void {
    if (this.closed || this.waiting.has(ask.id)) return;
    const previous = this.answered.get(ask.id);
    if (previous) {
      // Still pending after we replied: our reply was lost (only the list tells us so).
      if (fromList) void this.sendReply(ask.id, previous);
      return;
    }
    if (this.waiting.size >= (this.deps.maxWaiting ?? 256)) {
      this.deps.log(`ask ${ask.id}: too many asks waiting; rejected`);
      this.remember(ask.id, { reply: 'reject', message: 'Too many permission asks are waiting for Gatehouse at once, so this was not allowed.' });
      return;
    }
    const spec = requestSpecOf(ask, { cwd: this.deps.cwd?.(), idempotencyKey: `${this.prefix}-${++this.asks}` });
    const entry: Entry = { ask, spec, done: false, controller: new AbortController(), asked: Promise.resolve() };
    this.waiting.set(ask.id, entry);
    this.deps.log(`ask ${ask.id} (${ask.permission}): asking Gatehouse`);
    entry.asked = this.askGatehouse(entry);
  }

  private unreadable(id: string | undefined, error: string): void {
    if (!id || this.closed) {
      this.deps.log(`an unreadable permission ask without an id (${error}): left to opencode's own UI`);
      return;
    }
    this.deps.log(`ask ${id}: unreadable (${error}); rejected`);
    this.remember(id, { reply: 'reject', message: `Gatehouse could not read this permission ask (${error}), so it was not allowed.`.slice(0, 2000) });
  }

  private async askGatehouse(entry: Entry): Promise<void> {
    let outcome: AskOutcome;
    try {
      outcome = await this.deps.ask(entry.spec, (requestId) => this.onCreated(entry, requestId), entry.controller.signal);
    } catch (error) {
      outcome = { kind: 'unavailable', down: true, reason: `the client failed: ${(error as Error).message}` };
    }
    if (entry.done) return;
    entry.done = true;
    this.waiting.delete(entry.ask.id);
    const reply = replyOf(outcome, entry.spec.input, entry.ask);
    this.deps.log(`ask ${entry.ask.id}: ${reply.reply}${reply.message ? ` (${reply.message})` : ''}`);
    this.remember(entry.ask.id, reply);
  }

  private remember(id: string, reply: OpencodeReply): void {
    this.answered.set(id, reply);
    while (this.answered.size > ANSWERED_KEPT) this.answered.delete(this.answered.keys().next().value as string);
    void this.sendReply(id, reply);
  }

  private async sendReply(id: string, reply: OpencodeReply): Promise<void> {
    try {
      if (!(await this.deps.reply(id, reply))) this.deps.log(`reply to ${id} was not taken (answered already, or opencode no longer knows it)`);
    } catch (error) {
      // Left for the next resync (the ask is still pending in opencode: nothing runs).
      this.deps.log(`reply to ${id} failed: ${(error as Error).message}`);
    }
  }

  private onCreated(entry: Entry, requestId: string): void {
    entry.requestId = requestId;
    if (entry.cancelReason) void this.cancelGatehouse(entry);
  }

  /** Someone else answered the ask in opencode: our Gatehouse request has no job left. */
  private onReplied(id: string, why: string): void {
    const entry = this.waiting.get(id);
    if (!entry || entry.done) return; // ours (we replied) or never asked
    entry.done = true;
    this.waiting.delete(id);
    this.deps.log(`ask ${id}: ${why}; cancelling its Gatehouse request`);
    entry.cancelReason = OPENCODE_CANCEL_REASON;
    void this.cancelGatehouse(entry);
  }

  private async cancelGatehouse(entry: Entry): Promise<void> {
    if (!entry.requestId) {
      setTimeout(() => {
        if (!entry.requestId) entry.controller.abort();
      }, ID_WAIT_MS).unref();
      return;
    }
    const requestId = entry.requestId;
    entry.requestId = undefined; // once
    try {
      await this.deps.cancel(requestId, entry.cancelReason ?? OPENCODE_CANCEL_REASON);
    } catch (error) {
      this.deps.log(`cancel of ${requestId} failed: ${(error as Error).message}`);
    }
    entry.controller.abort();
  }
}
