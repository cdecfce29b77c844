/**
 * One WebSocket client: its identity (clientId, and the label it asked for, checked here so
 * it cannot pass for the server's own `decidedBy` values or another client's id), its
 * socket writes (with failure counting, corking and the slow-consumer bound) and its
 * per-connection limits. The hub decides what to send; this module only knows how to
 * write to one socket safely.
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import type { ServerMessage } from '../../protocol/index.ts';
import { DECIDED_BY_WIRE, NAMED_AGENTS, visibleText } from '../../protocol/index.ts';
import { RateLimiter, StrikeCounter } from './rateLimiter.ts';

const OPEN = 1;
/** Writes that fail this many times: stop writing, drop the socket. */
export const MAX_SEND_FAILURES = 3;

export type ConnectionParams = {
  /** `since` and `epoch` from the URL, raw. */
  since?: string | undefined;
  epoch?: string | undefined;
  label?: string | undefined;
  /** The upgrade carried an Origin: a browser. */
  browser: boolean;
  /** The peer's address, for the audit log's "who". */
  address?: string | undefined;
  /** The device whose cookie opened this socket (ending the device closes it). */
  device?: { id: string; name: string } | undefined;
};

/** At most this many characters in a `?label=`. */
export const MAX_LABEL_LENGTH = 40;

/**
 * Names a label may not take, compared by `skeleton`: the `decidedBy` values the server
 * writes itself (docs/protocol.md, "Who decided"). A client that could call itself `http`
 * or `timeout` would make its own decisions read as someone else's in the history, the
 * audit log and the hook's message to the agent.
 */
const RESERVED_NAMES = [
  DECIDED_BY_WIRE.http,
  'https',
  'api',
  DECIDED_BY_WIRE.timeout,
  'deadline',
  DECIDED_BY_WIRE.agent,
  DECIDED_BY_WIRE.server,
  DECIDED_BY_WIRE.serverRestart,
  // Agents that cancel under their own name (protocol/outcome.ts `parseDecidedBy` reads them as the agent).
  ...NAMED_AGENTS,
  'unknown',
  'owner',
  'system',
  'gatehouse',
  'cancelled',
];
/** Prefixes the server uses for identities with a suffix: `rule:<id>`, `device:<name>` (protocol/outcome.ts). */
const RESERVED_PREFIXES = ['rule', 'device'];
/** Client ids are `browser-<8 hex>` and `client-<8 hex>`: a label of that shape is refused. */
const ID_PREFIXES = ['browser', 'client'];

/**
 * What a label looks like to a reader: case, separators and the ASCII look-alikes
 * (0/o, 1/l/i) removed, so `HTTP`, `h.t.t.p`, `Rule 12` and `browser-1A2B3C4O` compare
 * equal to what they imitate.
 */
export function labelSkeleton(label: string): string {
  return label
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '')
    .replace(/0/g, 'o')
    .replace(/[1i]/g, 'l');
}

const RESERVED_SKELETONS = new Set(RESERVED_NAMES.map(labelSkeleton));
// 8 hex digits give the id; 6 to 10 of them (or their look-alikes) already read as one.
const ID_SHAPE = new RegExp(`^(${ID_PREFIXES.map(labelSkeleton).join('|')})[2-9a-fol]{6,10}$`);

export type LabelCheck = { ok: true; label: string | undefined } | { ok: false; problem: string };

/**
 * A client's `?label=`, checked: letters, digits, space and `. _ @ -`, at most 40, not a
 * name the server uses and not shaped like a client id. No label (or an empty one) is
 * fine: the client id is used. Anything else is refused, never repaired, so a label is
 * never silently turned into another (`h\u200Bttp` into `http`).
 */
export function checkLabel(raw: string | undefined): LabelCheck {
  if (raw === undefined) return { ok: true, label: undefined };
  const bad = /[^A-Za-z0-9 ._@-]/u.exec(raw);
  if (bad) {
    const shown = visibleText(bad[0]);
    return {
      ok: false,
      problem: `label: the character ${shown.hidden ? shown.text : JSON.stringify(bad[0])} is not allowed (letters, digits, space and . _ @ - only)`,
    };
  }
  const label = raw.replace(/ +/g, ' ').trim();
  if (label === '') return { ok: true, label: undefined };
  if (label.length > MAX_LABEL_LENGTH) return { ok: false, problem: `label: at most ${MAX_LABEL_LENGTH} characters (got ${label.length})` };
  const skeleton = labelSkeleton(label);
  if (skeleton === '') return { ok: false, problem: 'label: needs at least one letter or digit' };
  if (RESERVED_SKELETONS.has(skeleton) || RESERVED_PREFIXES.some((p) => skeleton.startsWith(labelSkeleton(p)))) {
    return { ok: false, problem: `label: "${label}" is reserved: the server uses it for decisions that are not a client's` };
  }
  if (ID_SHAPE.test(skeleton))
    return { ok: false, problem: `label: "${label}" looks like a client id (browser-… / client-…): connect without a label to use your own` };
  return { ok: true, label };
}

export function newClientId(browser: boolean): string {
  return `${browser ? 'browser' : 'client'}-${randomBytes(4).toString('hex')}`;
}

export type ConnectionOptions = {
  id: string;
  label: string;
  params: ConnectionParams;
  rateLimit: number;
  onSendFailure: (conn: ClientConnection, error: Error) => void;
};

export class ClientConnection {
  readonly id: string;
  readonly label: string;
  readonly params: ConnectionParams;
  readonly limiter: RateLimiter;
  /** Too many invalid frames in 10 s: close with 1008. */
  readonly invalidStrikes = new StrikeCounter(100, 10_000);
  /** Welcome sent, history or snapshot sent: receives the live stream. */
  joined = false;
  /** Frames that arrived before the welcome; handled right after it. */
  early: Array<string | ArrayBuffer> = [];
  /** The last queue status this client was told (JSON text), for change detection. */
  lastQueue = '';
  /** Saw a pong or a frame since the last ping. */
  alive = true;
  /** No more writes (slow consumer, failing sends, closing). */
  dropped = false;
  closed = false;
  /** A device socket on a shared store: its decisions wait, in order, for the device gate
   *  (security/deviceGate.ts); this is the end of that chain and how many wait in it. */
  gated: Promise<void> = Promise.resolve();
  gatedCount = 0;
  private failures = 0;
  private readonly onSendFailure: (conn: ClientConnection, error: Error) => void;

  constructor(
    readonly raw: WebSocket,
    options: ConnectionOptions,
  ) {
    this.id = options.id;
    this.label = options.label;
    this.params = options.params;
    this.limiter = new RateLimiter({ ratePerSecond: options.rateLimit });
    this.onSendFailure = options.onSendFailure;
  }

  get writable(): boolean {
    return !this.dropped && !this.closed && this.raw.readyState === OPEN;
  }

  get bufferedAmount(): number {
    return this.raw.bufferedAmount;
  }

  private readonly afterSend = (error?: Error | null) => {
    if (!error) return;
    this.failures += 1;
    this.onSendFailure(this, error);
    if (this.failures >= MAX_SEND_FAILURES && !this.dropped) {
      this.dropped = true;
      this.raw.terminate();
    }
  };

  /** Write one frame; false when the socket takes no more writes. `onWritten` runs once
   *  the frame has been handed to the socket (with the error if it failed), which is how
   *  a paced writer (the snapshot parts) knows when to send the next one. */
  sendText(text: string, onWritten?: (error?: Error | null) => void): boolean {
    if (!this.writable) return false;
    try {
      this.raw.send(
        text,
        onWritten
          ? (error) => {
              this.afterSend(error);
              onWritten(error);
            }
          : this.afterSend,
      );
      return true;
    } catch (error) {
      this.afterSend(error as Error);
      return false;
    }
  }

  send(message: ServerMessage): boolean {
    return this.sendText(JSON.stringify(message));
  }

  /** Group the writes of one tick into as few syscalls as possible (still one event per frame). */
  cork(): void {
    (this.raw as unknown as { _socket?: Socket })._socket?.cork();
  }

  uncork(): void {
    (this.raw as unknown as { _socket?: Socket })._socket?.uncork();
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.dropped = true;
    try {
      this.raw.close(code, reason);
    } catch {
      this.raw.terminate();
    }
  }
}
