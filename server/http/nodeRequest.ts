/**
 * The agents' HTTP path without the Fetch API's Request (SPEC CORE-F4). Behind
 * @hono/node-server, `c.req.raw` is a lightweight object over Node's IncomingMessage;
 * touching its `body`, `signal` or `text()` builds a whole undici Request (headers, an
 * AbortController, a web stream over the socket), which was about a tenth of the server's
 * CPU per create-and-wait (BENCHMARKS.md, "HTTP agents"). These helpers read the same
 * things from the Node objects when they are there, and fall back to the Request when
 * they are not (in-process `app.request()`) or when something upstream already read the
 * body through it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from 'hono';
import { Cancel, type CancelSignal } from '../cancel.ts';

type NodeBindings = { incoming?: IncomingMessage; outgoing?: ServerResponse };

function bindingsOf(c: Context): NodeBindings {
  return (c.env ?? {}) as NodeBindings;
}

/** HTTP whitespace, which the Fetch API's Headers trims from both ends of a value. */
const EDGE_WHITESPACE = /^[\t\n\r ]+|[\t\n\r ]+$/g;

/**
 * A request header (`name` in lower case), as `c.req.header(name)` gives it, without
 * building the undici Headers that @hono/node-server makes on the first header read
 * (CORE-F6, BENCHMARKS.md "HTTP agents"). Behind node-server those Headers are built from
 * `incoming.rawHeaders` (each line appended, pseudo-headers skipped): so is this value,
 * every line of the name joined with ", " and trimmed as Headers does, so a doubled Host
 * or Origin reads exactly as before ("a, b", which no allow-list holds). Only for a
 * plain HTTP request (with `outgoing`): an upgrade's Request is built by @hono/node-ws
 * from Node's merged `incoming.headers`, so there the Request is read as before.
 */
export function headerOf(c: Context, name: string): string | undefined {
  const { incoming, outgoing } = bindingsOf(c);
  if (!incoming || !outgoing) return c.req.header(name);
  const raw = incoming.rawHeaders;
  let value: string | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const key = raw[i];
    if (key === undefined || key.length !== name.length || key.toLowerCase() !== name) continue;
    const line = (raw[i + 1] ?? '').replace(EDGE_WHITESPACE, '');
    value = value === undefined ? line : `${value}, ${line}`;
  }
  return value;
}

/** The request's body as declared in its headers: `none` (no length, no chunks),
 *  `length` (Content-Length, no Transfer-Encoding) or `chunked`; `undefined` in-process. */
export function declaredBodyOf(c: Context): { kind: 'none' } | { kind: 'length'; bytes: number } | { kind: 'chunked' } | undefined {
  const { incoming } = bindingsOf(c);
  if (!incoming) return undefined;
  if (incoming.headers['transfer-encoding'] !== undefined) return { kind: 'chunked' };
  const length = incoming.headers['content-length'];
  if (length === undefined) return { kind: 'none' };
  return { kind: 'length', bytes: Number(length) };
}

/** The body as text, read once from the socket. Falls back to `c.req.text()` in-process,
 *  or when the body was already read through the Request (the device re-check, the
 *  streaming body limit of a chunked body), which then holds it. */
export function bodyTextOf(c: Context): Promise<string> {
  const { incoming } = bindingsOf(c);
  if (!incoming || incoming.readableDidRead || incoming.readableEnded) return c.req.text();
  return new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks, size).toString('utf8'));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const onClose = () => {
      cleanup();
      reject(new Error('the client went away before its body arrived'));
    };
    const cleanup = () => {
      incoming.off('data', onData);
      incoming.off('end', onEnd);
      incoming.off('error', onError);
      incoming.off('close', onClose);
    };
    incoming.on('data', onData);
    incoming.once('end', onEnd);
    incoming.once('error', onError);
    incoming.once('close', onClose);
  });
}

/** Cancelled when the client goes away before its answer is written (what `c.req.raw.signal`
 *  means behind @hono/node-server: the response closed before it finished). */
export function clientGoneSignalOf(c: Context): CancelSignal {
  const { outgoing } = bindingsOf(c);
  if (!outgoing) return c.req.raw.signal;
  // A Cancel, not an AbortController: no DOMException or Event per call (CORE-F15).
  const gone = new Cancel();
  if (outgoing.destroyed && !outgoing.writableFinished) {
    gone.cancel();
    return gone;
  }
  outgoing.once('close', () => {
    if (!outgoing.writableFinished) gone.cancel();
  });
  return gone;
}
