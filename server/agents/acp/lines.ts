/**
 * Newline-delimited JSON framing (ACP over stdio) that keeps every byte: each line is
 * handed on as the exact Buffer received, its `\n` included, so a pass-through proxy can
 * forward it unchanged (no decode and re-encode, which would alter invalid UTF-8 or
 * re-serialise JSON). A last line without `\n` is handed on at the end.
 */
export class LineSplitter {
  private pending: Buffer[] = [];

  constructor(private readonly emit: (line: Buffer) => void) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf(0x0a, start);
      if (newline < 0) {
        if (start < chunk.length) this.pending.push(chunk.subarray(start));
        return;
      }
      const piece = chunk.subarray(start, newline + 1);
      const line = this.pending.length > 0 ? Buffer.concat([...this.pending, piece]) : piece;
      this.pending = [];
      start = newline + 1;
      this.emit(line);
    }
  }

  end(): void {
    if (this.pending.length === 0) return;
    const line = Buffer.concat(this.pending);
    this.pending = [];
    this.emit(line);
  }
}

export type JsonRpcMessage = {
  id?: unknown;
  method?: unknown;
  params?: unknown;
  result?: unknown;
  error?: unknown;
};

/** The JSON-RPC message a line holds, or undefined (blank, not JSON, a batch, not an object). */
export function messageOf(line: Buffer): JsonRpcMessage | undefined {
  const text = line.toString('utf8').trim();
  if (!text.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as JsonRpcMessage) : undefined;
  } catch {
    return undefined;
  }
}

/** A JSON-RPC id as a map key: `1` and `"1"` are different ids. */
export function idKeyOf(id: unknown): string | undefined {
  return typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id)) ? JSON.stringify(id) : undefined;
}
