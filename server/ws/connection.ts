/**
 * One WebSocket client: its identity (clientId, label), its socket writes (with failure
 * counting, corking and the slow-consumer bound) and its per-connection limits. The hub
 * decides what to send; this module only knows how to write to one socket safely.
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import type { ServerMessage } from '../../protocol/index.ts';
import { RateLimiter, StrikeCounter } from './rateLimiter.ts';

const OPEN = 1;
/** Writes that fail this many times: stop writing, drop the socket. */
export const MAX_SEND_FAILURES = 3;

export type ConnectionParams = {
  /** `since` and `epoch` from the URL, raw. */
  since?: string;
  epoch?: string;
  label?: string;
  /** The upgrade carried an Origin: a browser. */
  browser: boolean;
  /** The peer's address, for the audit log's "who". */
  address?: string;
  /** The device whose cookie opened this socket (ending the device closes it). */
  device?: { id: string; name: string };
};

/** A bounded, printable label: letters, digits, space and . _ @ - (at most 40). */
export function sanitizeLabel(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const clean = raw
    .replace(/[^A-Za-z0-9 ._@-]/g, '')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 40);
  return clean || undefined;
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

  /** Write one frame; false when the socket takes no more writes. */
  sendText(text: string): boolean {
    if (!this.writable) return false;
    try {
      this.raw.send(text, this.afterSend);
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
