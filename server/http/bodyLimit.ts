/**
 * Body size limit (protocol-v1.md §2: HTTP bodies up to 1 MiB by default) that a client
 * can actually read: an oversized body whose declared length is moderate is read and
 * discarded before the 413 goes out, so the client sees the 413 instead of a reset
 * connection while it is still writing. Bodies without a length (chunked) are counted
 * as they stream, by Hono's bodyLimit.
 */
import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { ERROR_CODES } from '../../protocol/index.ts';
import { errorResponse } from './errors.ts';
import { declaredBodyOf, headerOf } from './nodeRequest.ts';

/** Above this declared size, the connection is closed rather than drained. */
const MAX_DRAIN_BYTES = 16 << 20;

export function limitBody(maxBytes: number): MiddlewareHandler {
  const tooLarge = (c: Parameters<MiddlewareHandler>[0]) => errorResponse(c, 413, ERROR_CODES.payloadTooLarge, `body: at most ${maxBytes} bytes`);
  const streaming = bodyLimit({ maxSize: maxBytes, onError: tooLarge });
  return async (c, next) => {
    // Behind Node, a body of declared length within the limit (or none) passes without
    // building the Fetch Request that Hono's bodyLimit reads (CORE-F4, nodeRequest.ts).
    const node = declaredBodyOf(c);
    if (node?.kind === 'none' || (node?.kind === 'length' && Number.isFinite(node.bytes) && node.bytes <= maxBytes)) return next();
    const declared = Number(headerOf(c, 'content-length'));
    if (Number.isFinite(declared) && declared > maxBytes) {
      const body = c.req.raw.body;
      if (declared <= MAX_DRAIN_BYTES && body) {
        try {
          const reader = body.getReader();
          for (;;) {
            const { done } = await reader.read();
            if (done) break;
          }
        } catch {
          // The client went away: nothing to answer.
        }
      } else {
        c.header('connection', 'close');
      }
      return tooLarge(c);
    }
    return streaming(c, next);
  };
}
