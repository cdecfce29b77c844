/**
 * The frames of one WebSocket snapshot (contract-2 §3; docs/protocol.md, "Snapshot in
 * parts"): a `snapshot` frame with the first requests, then `snapshot-part` frames, none
 * larger than the frame limit. When every request fits one frame, the single `snapshot`
 * is exactly protocol-v1's (no `more` field).
 *
 * Built lazily, one frame at a time, so a large snapshot is serialized only as fast as
 * the socket takes it (the hub paces it) instead of all at once in memory.
 */
import type { PermissionRequestEvent, QueueStatusMessage } from '../../protocol/index.ts';

type Queue = Pick<QueueStatusMessage, 'pending' | 'processing'>;

/** Bytes a request's frame needs beyond its input, context and tool name: the event's
 *  other fields (type, seq, id, timestamps) and the snapshot's envelope (about 330 at
 *  most). A create must leave this much room in the frame limit (permissions.ts). */
export const FRAME_RESERVE_BYTES = 512;

export class SnapshotParts {
  private next = 0;
  /** The text of `requests[next]` once serialized (it may not have fit the last frame). */
  private carried: string | undefined;
  private started = false;
  /** Requests larger than a frame by themselves: sent alone (see docs/protocol.md). */
  oversize = 0;
  frames = 0;

  constructor(
    private readonly requests: readonly PermissionRequestEvent[],
    private readonly seq: number,
    private readonly queue: Queue,
    private readonly maxFrameBytes: number,
  ) {}

  /** Every request has been put in a frame. */
  get done(): boolean {
    return this.started && this.next >= this.requests.length;
  }

  /** The first frame (`snapshot`), then each `snapshot-part`; call until `done`. */
  nextFrame(): string {
    const first = !this.started;
    this.started = true;
    const queue = JSON.stringify({ pending: this.queue.pending, processing: this.queue.processing });
    const head = first ? `{"type":"snapshot","seq":${this.seq},"requests":[` : '{"type":"snapshot-part","requests":[';
    // The longest tail this frame can end with, so the frame fits whichever it gets.
    const longestTail = first ? `],"queue":${queue},"more":true}` : '],"more":false}';
    const texts = this.fill(this.maxFrameBytes - Buffer.byteLength(head) - Buffer.byteLength(longestTail));
    const more = this.next < this.requests.length;
    this.frames += 1;
    const tail = first ? (more ? `],"queue":${queue},"more":true}` : `],"queue":${queue}}`) : `],"more":${more}}`;
    return head + texts.join(',') + tail;
  }

  /** As many of the next requests as fit `budget` bytes; at least one. */
  private fill(budget: number): string[] {
    const texts: string[] = [];
    let used = 0;
    while (this.next < this.requests.length) {
      const text = this.carried ?? JSON.stringify(this.requests[this.next]);
      this.carried = undefined;
      const bytes = Buffer.byteLength(text) + (texts.length > 0 ? 1 : 0);
      if (texts.length > 0 && used + bytes > budget) {
        this.carried = text;
        break;
      }
      if (texts.length === 0 && bytes > budget) this.oversize += 1;
      texts.push(text);
      used += bytes;
      this.next += 1;
      if (used >= budget) break;
    }
    return texts;
  }
}
