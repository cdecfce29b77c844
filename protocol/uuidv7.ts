/**
 * UUID version 7 (RFC 9562 §5.7): 48 bits of Unix milliseconds, then 12 bits of a counter
 * (RFC 9562 §6.2 method 1, seeded at random each millisecond), then 62 random bits. Ids
 * made by one process sort in the order they were made, so a new key lands at the end of
 * a B-tree index instead of a random page of it (issue 10: random v4 keys cost the commit
 * most of its index work). The wire treats ids as opaque strings (protocol-v1.md,
 * protocol/fields.ts `id`), so v7 ids are v4's drop-in.
 *
 * `globalThis.crypto.getRandomValues` exists in Node ≥ 19 and every browser: protocol/
 * stays free of Node imports.
 */

let lastMs = -1;
let counter = 0;

const hex: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Random bytes for this many ids are drawn at once: one `getRandomValues` call per id
 *  was about 1.5 % of the server's CPU per create-and-wait (CORE-F8); each id still takes
 *  16 bytes of its own, never reused (Node's `randomUUID` pools the same way). */
const POOLED_IDS = 128;
const pool = new Uint8Array(16 * POOLED_IDS);
let poolAt = pool.length;

function freshBytes(): Uint8Array {
  if (poolAt >= pool.length) {
    globalThis.crypto.getRandomValues(pool);
    poolAt = 0;
  }
  const bytes = pool.subarray(poolAt, poolAt + 16);
  poolAt += 16;
  return bytes;
}

/** A UUIDv7 string; strictly increasing within this process (also within one millisecond). */
export function uuidv7(now: number = Date.now()): string {
  const bytes = freshBytes();
  let ms = Math.max(0, Math.floor(now));
  if (ms > lastMs) {
    lastMs = ms;
    // Seeded below half its range, so a burst within one millisecond has room to count.
    counter = ((bytes[6]! & 0x07) << 8) | bytes[7]!;
  } else {
    // The same millisecond (or the clock went back): count on from the last id.
    counter += 1;
    if (counter > 0xfff) {
      lastMs += 1;
      counter = 0;
    }
    ms = lastMs;
  }
  // 48-bit big-endian milliseconds (beyond 32 bits: no bitwise operators).
  const high = Math.floor(ms / 0x1_0000_0000);
  const low = ms >>> 0;
  bytes[0] = (high >>> 8) & 0xff;
  bytes[1] = high & 0xff;
  bytes[2] = (low >>> 24) & 0xff;
  bytes[3] = (low >>> 16) & 0xff;
  bytes[4] = (low >>> 8) & 0xff;
  bytes[5] = low & 0xff;
  bytes[6] = 0x70 | (counter >>> 8); // version 7
  bytes[7] = counter & 0xff;
  bytes[8] = 0x80 | (bytes[8]! & 0x3f); // variant 10
  let text = '';
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) text += '-';
    text += hex[bytes[i]!];
  }
  return text;
}

/** The Unix milliseconds a UUIDv7 carries (undefined when `id` is not one). */
export function uuidv7Time(id: string): number | undefined {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(id)) return undefined;
  return Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}
