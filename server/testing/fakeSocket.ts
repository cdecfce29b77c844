/**
 * A fake WebSocket pair for the in-process harness (architecture.md, example 9: tldraw's
 * `TestSocketPair`): nothing moves until the test says so. Each direction is a queue of
 * frames in flight; the test delivers, drops, duplicates or reorders them one at a time,
 * and either side's close travels behind the frames already sent, as over TCP.
 *
 * The server side is the `raw` socket the hub writes to (the few members of `ws` it
 * uses: readyState, bufferedAmount, send with its written callback, close, terminate,
 * ping, on). The client side is whatever the harness binds: `toClient` frames are handed
 * to `onClientFrame`, closes to `onClientClose`.
 */

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

export type Direction = 'toServer' | 'toClient';

export type WireItem =
  | { kind: 'frame'; text: string; onWritten?: (error?: Error | null) => void }
  /** A close frame: the side that sent it closed; the peer learns on delivery. */
  | { kind: 'close'; code: number; reason: string };

export type LinkSide = {
  /** A server frame reached the client. */
  onClientFrame(text: string): void;
  /** The client learns that the socket is gone. */
  onClientClose(code: number, reason: string): void;
  /** A client frame reached the server. */
  onServerFrame(text: string): void;
  /** The server learns that the socket is gone (the hub detaches). */
  onServerClose(code: number, reason: string): void;
  /** Every frame queued in either direction (for tracing and quiet detection). */
  onQueued?(direction: Direction, item: WireItem): void;
};

/** The member set of `ws`'s WebSocket that the hub and ClientConnection use. */
export type FakeServerSocket = {
  readyState: number;
  readonly bufferedAmount: number;
  send(text: string, done?: (error?: Error | null) => void): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
  ping(): void;
  on(event: string, listener: (...args: unknown[]) => void): void;
};

export class FakeLink {
  readonly toServer: WireItem[] = [];
  readonly toClient: WireItem[] = [];
  /** The client stopped listening (its socket actor ended, or it saw the close). */
  clientClosed = false;
  /** The server saw the end (onServerClose ran). */
  serverClosed = false;
  /** A frame was lost or reordered on this link: it may hold a fault nobody can detect. */
  lost = false;
  readonly raw: FakeServerSocket;
  private side: LinkSide | undefined;

  constructor(
    readonly id: number,
    /** The client this link belongs to (for traces). */
    readonly owner: string,
  ) {
    const link = this;
    this.raw = {
      readyState: CONNECTING,
      get bufferedAmount() {
        return link.bufferedBytes();
      },
      send(text, done) {
        if (this.readyState !== OPEN) {
          done?.(new Error('WebSocket is not open'));
          return;
        }
        link.push('toClient', { kind: 'frame', text, ...(done ? { onWritten: done } : {}) });
      },
      close(code = 1005, reason = '') {
        if (this.readyState >= CLOSING) return;
        this.readyState = CLOSING;
        link.push('toClient', { kind: 'close', code, reason });
      },
      terminate() {
        // An abrupt end from the server: both sides learn soon (ws emits 'close' later,
        // not inside the caller's stack), frames in flight are lost.
        if (this.readyState === CLOSED) return;
        this.readyState = CLOSED;
        queueMicrotask(() => link.sever(1006, 'terminated'));
      },
      ping() {},
      on() {},
    };
  }

  /** Bind both ends and open the server side (the upgrade succeeded). */
  open(side: LinkSide): void {
    this.side = side;
    this.raw.readyState = OPEN;
  }

  get isOpen(): boolean {
    return this.raw.readyState === OPEN && !this.clientClosed;
  }

  /** Anything still travelling, either way. */
  get inFlight(): number {
    return this.toServer.length + this.toClient.length;
  }

  private bufferedBytes(): number {
    let bytes = 0;
    for (const item of this.toClient) if (item.kind === 'frame') bytes += Buffer.byteLength(item.text);
    return bytes;
  }

  private push(direction: Direction, item: WireItem): void {
    this[direction].push(item);
    this.side?.onQueued?.(direction, item);
  }

  /** The client writes a frame (dropped when its side is closed, as a browser does). */
  clientSend(text: string): void {
    if (this.clientClosed || this.serverClosed) return;
    this.push('toServer', { kind: 'frame', text });
  }

  /** The client closes (its socket actor stopped): the close frame follows what it sent. */
  clientClose(code = 1000, reason = 'client'): void {
    if (this.clientClosed) return;
    this.clientClosed = true;
    if (!this.serverClosed && this.side) this.push('toServer', { kind: 'close', code, reason });
  }

  /** Deliver the item at `index` of a direction (0 is the oldest: in order). */
  deliver(direction: Direction, index = 0): WireItem | undefined {
    const [item] = this[direction].splice(index, 1);
    if (!item || !this.side) return item;
    // A real socket never reorders: out of order, this link is as broken as one that lost
    // a frame (the receiver may not be able to tell, e.g. a snapshot before its welcome).
    if (index > 0) this.lost = true;
    if (direction === 'toClient') {
      if (item.kind === 'frame') {
        item.onWritten?.(null);
        if (!this.clientClosed) this.side.onClientFrame(item.text);
      } else {
        // The server's close reached the client: it answers with its own close, behind
        // whatever it sent before (the server still reads those), and the server's side
        // ends when that answer arrives.
        const wasOpen = !this.clientClosed;
        this.clientClosed = true;
        if (wasOpen) {
          this.side.onClientClose(item.code, item.reason);
          this.push('toServer', { kind: 'close', code: item.code, reason: item.reason });
        } else if (!this.toServer.some((queued) => queued.kind === 'close')) {
          this.serverEnd(item.code, item.reason);
        }
      }
    } else if (item.kind === 'frame') {
      if (!this.serverClosed && this.raw.readyState !== CLOSED) this.side.onServerFrame(item.text);
    } else {
      // The client's close reached the server: it answers, and it is over.
      this.serverEnd(item.code, item.reason);
    }
    return item;
  }

  /** Lose the item at `index` (the network ate it). */
  drop(direction: Direction, index = 0): WireItem | undefined {
    const [item] = this[direction].splice(index, 1);
    if (!item) return undefined;
    if (item.kind === 'close') {
      // A lost close is a dead connection: both ends find out.
      this[direction].unshift(item);
      this.sever(1006, 'close lost');
      return item;
    }
    if (direction === 'toClient') item.onWritten?.(null);
    this.lost = true;
    return item;
  }

  /** The item at `index` arrives twice (the copy right behind it). Closes are not copied. */
  duplicate(direction: Direction, index = 0): WireItem | undefined {
    const item = this[direction][index];
    if (item?.kind !== 'frame') return undefined;
    this[direction].splice(index + 1, 0, { kind: 'frame', text: item.text });
    return item;
  }

  /** The network is gone: frames in flight are lost, both ends see 1006 now. */
  sever(code = 1006, reason = 'connection lost'): void {
    for (const item of this.toClient) if (item.kind === 'frame') item.onWritten?.(new Error('socket closed'));
    this.toClient.length = 0;
    this.toServer.length = 0;
    if (!this.clientClosed) {
      this.clientClosed = true;
      this.side?.onClientClose(code, reason);
    }
    this.serverEnd(code, reason);
  }

  /** The server process died (kill -9): what it wrote is in the kernel's buffers and
   *  still arrives, then the connection ends (1006); what the client sends is lost. */
  serverDied(): void {
    if (this.serverClosed) return;
    this.toServer.length = 0;
    this.serverEnd(1006, 'server died');
    if (!this.clientClosed && this.side) this.push('toClient', { kind: 'close', code: 1006, reason: 'server died' });
  }

  private serverEnd(code: number, reason: string): void {
    this.raw.readyState = CLOSED;
    if (this.serverClosed) return;
    this.serverClosed = true;
    this.side?.onServerClose(code, reason);
  }
}
