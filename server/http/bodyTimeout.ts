/**
 * Body timeout (docs/operations.md, "Limits"): a request whose body has not fully arrived
 * `--body-timeout-ms` after its headers (10 s by default) is answered 408
 * `request-timeout` and its connection closed, so a client with a valid token cannot hold
 * a handler (and its memory) forever by trickling a body, or by never finishing it.
 *
 * Node's own `requestTimeout` would do this for every request, but it also cuts the
 * `GET …?wait=60` long-polls, which is why the server turns it off (server.ts). This bound
 * only looks at the body: a request with none (every long-poll) is never timed, and one
 * whose body is complete is left alone however long its handler then takes (a
 * create-and-wait).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MiddlewareHandler } from 'hono';
import { ERROR_CODES } from '../../protocol/index.ts';
import { errorResponse } from './errors.ts';

type NodeBindings = { incoming?: IncomingMessage; outgoing?: ServerResponse };

function hasBody(incoming: IncomingMessage): boolean {
  const length = incoming.headers['content-length'];
  if (length !== undefined) return Number(length) > 0;
  return incoming.headers['transfer-encoding'] !== undefined;
}

export function bodyTimeout(timeoutMs: number): MiddlewareHandler {
  return async (c, next) => {
    const { incoming, outgoing } = (c.env ?? {}) as NodeBindings;
    // In-process (`app.request()`) there is no socket to trickle on.
    if (!incoming || incoming.complete || !hasBody(incoming)) return next();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => {
        if (!incoming.complete) resolve('timeout');
      }, timeoutMs);
      timer.unref();
    });
    const stop = () => clearTimeout(timer);
    incoming.once('end', stop);
    incoming.once('close', stop);
    const downstream = next().then(() => 'done' as const);
    const winner = await Promise.race([downstream, timedOut]);
    stop();
    if (winner === 'done') return;
    // The handler still waits on the body; closing the connection ends that wait (its
    // error is handled by Hono's onError on a response nobody reads any more).
    downstream.catch(() => {});
    outgoing?.once('finish', () => incoming.socket?.destroySoon());
    c.header('connection', 'close');
    return errorResponse(c, 408, ERROR_CODES.requestTimeout, `body: not received within ${timeoutMs} ms of the headers`);
  };
}
