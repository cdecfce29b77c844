/**
 * A small JSON-over-HTTP call with a hard deadline, built on node:http: a server that
 * accepts the connection but never answers must cost at most `timeoutMs`. By default no
 * keep-alive (a hook process must exit the moment it has printed its answer); the pinned
 * client (`pinned.ts`) passes its own keep-alive agent and `acceptSocket`, so that the
 * token travels only on the connection its hello was proven on.
 */
import { request as httpRequest, type Agent } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';

export type HttpResult = { status: number; body: unknown; text: string };

export class HttpFailure extends Error {
  override name = 'HttpFailure';
  constructor(
    message: string,
    /** `unreachable`: connect refused/reset; `timeout`: no answer in time; `aborted`: the caller gave up. */
    readonly kind: 'unreachable' | 'timeout' | 'aborted',
  ) {
    super(message);
  }
}

export type HttpOptions = {
  headers?: Record<string, string>;
  body?: unknown;
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  /** A keep-alive agent to use instead of a connection of its own. */
  agent?: Agent;
  /** Called with the connection before anything is written on it: a reason refuses it
   *  (the request fails as `unreachable` with `socketRefused`, nothing is sent). */
  acceptSocket?: (socket: Socket) => string | undefined;
};

/** The request was not sent: `acceptSocket` refused the connection it was given. */
export class SocketRefused extends HttpFailure {
  override name = 'SocketRefused';
  constructor(message: string) {
    super(message, 'unreachable');
  }
}

/**
 * The Host header for a URL, as we send it and as the hello proof binds it (contract-2
 * §2): the host in lower case with the port as the URL gives it, the scheme's default
 * port left out (`http://h` and `http://h:80` are both `h`), IPv6 in brackets. Set
 * explicitly on every request so the proof and the request can never disagree.
 */
export function hostHeaderOf(url: URL): string {
  return url.host.toLowerCase();
}

export function httpJson(method: string, url: string, options: HttpOptions): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      reject(new HttpFailure(`invalid server URL ${JSON.stringify(url)}`, 'unreachable'));
      return;
    }
    const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body), 'utf8');
    const headers: Record<string, string> = {
      accept: 'application/json',
      connection: options.agent ? 'keep-alive' : 'close',
      host: hostHeaderOf(parsed),
      ...options.headers,
    };
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    const send = parsed.protocol === 'https:' ? httpsRequest : httpRequest;
    let settled = false;
    const finish = (error: HttpFailure | null, result?: HttpResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      if (error) {
        req.destroy();
        reject(error);
      } else resolve(result!);
    };
    // The URL's parts, not the URL object: node:http would convert it again on every call.
    const target = {
      protocol: parsed.protocol,
      hostname: parsed.hostname.startsWith('[') ? parsed.hostname.slice(1, -1) : parsed.hostname,
      port: parsed.port,
      path: `${parsed.pathname}${parsed.search}`,
    };
    const req = send({ ...target, method, headers, agent: options.agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', (error) => finish(new HttpFailure(`response failed: ${error.message}`, 'unreachable')));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown;
        try {
          body = text ? JSON.parse(text) : undefined;
        } catch {
          body = undefined;
        }
        finish(null, { status: res.statusCode ?? 0, body, text });
      });
    });
    const timer = setTimeout(() => finish(new HttpFailure(`no answer from ${parsed.host} within ${options.timeoutMs} ms`, 'timeout')), options.timeoutMs);
    const onAbort = () => finish(new HttpFailure('aborted', 'aborted'));
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    // 'socket' comes before the request is flushed to it: a refusal here sends nothing.
    req.on('socket', (socket: Socket) => {
      const refusal = options.acceptSocket?.(socket);
      if (refusal) finish(new SocketRefused(refusal));
    });
    req.on('error', (error: NodeJS.ErrnoException) => finish(new HttpFailure(`cannot reach ${parsed.host}: ${error.code ?? error.message}`, 'unreachable')));
    if (payload) req.write(payload);
    req.end();
  });
}
