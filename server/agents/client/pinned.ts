/**
 * The pinned server (contract-2 §2, docs/integrations.md "The agent token and the pinned
 * server"): an agent-side client sends its agent token only to a server that first
 * proved it knows that token. The proof is `POST /api/agent/hello` with a fresh random
 * nonce and no credential, answered with HMAC(agent token, nonce|host), checked with the
 * shared `helloProofValid` for exactly the Host header we send. Anything else at
 * GATEHOUSE_URL (another dev server on port 3000, a lure, a relay on another port) gets
 * the hello and nothing more.
 *
 * The proof holds for one TCP connection: hello and every call after it share one
 * keep-alive connection, and a call that would go out on any other connection (the
 * server closed ours, restarted, or something else now holds its port) is not sent; the
 * new connection is proven first. So the token, and every answer we act on, travel only
 * on a connection whose far end proved it knows the token.
 *
 * `pair` (server/cli/pair.ts) uses the same client with another `bearer`: the owner token
 * of the same data directory, sent only once the server proved it knows that directory's
 * agent token.
 */
import { randomBytes } from 'node:crypto';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Socket } from 'node:net';
import { HELLO_PATH, helloProofValid } from '../../security/helloProof.ts';
import { HttpFailure, hostHeaderOf, httpJson, SocketRefused, type HttpResult } from './http.ts';

export type ProofOutcome =
  | { ok: true }
  /** `down`: no answer at all; `unproven`: it answered, but not with a valid proof;
   *  `aborted`: the caller gave up first. Only `ok` lets the token out. */
  | { ok: false; kind: 'down' | 'unproven' | 'aborted'; reason: string };

/** A call was not made: the server at the URL did not prove it knows the agent token. */
export class NotProven extends HttpFailure {
  override name = 'NotProven';
  constructor(message: string) {
    super(message, 'unreachable');
  }
}

export type CallOptions = { headers?: Record<string, string>; body?: unknown; timeoutMs: number; signal?: AbortSignal | undefined };

/** What the ask loop needs of a server; `PinnedServer` is the one real clients use. */
export type AgentServer = {
  readonly baseUrl: string;
  prove(timeoutMs: number, signal?: AbortSignal): Promise<ProofOutcome>;
  /** A call with the bearer (the agent token unless given), made only over a proven connection. Throws
   *  `HttpFailure` (`NotProven` when the server could not prove itself). */
  call(method: string, path: string, options: CallOptions): Promise<HttpResult>;
  /** Drop the proof: the next call proves again. */
  forget(): void;
  /** Close the connection. */
  close(): void;
};

export type PinnedServerOptions = {
  baseUrl: string;
  agentToken: string;
  /** The credential the calls carry; default the agent token. The proof is always
   *  under the agent token: `pair` sends the owner token only to a server that knows
   *  the agent token of the same data directory. */
  bearer?: string;
  log?: (message: string) => void;
};

/** A URL we may send a token to at all: http(s), no user name or password in it (node
 *  would turn those into an Authorization header of their own). */
export function checkServerUrl(baseUrl: string): { ok: true; url: URL } | { ok: false; reason: string } {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    return { ok: false, reason: `GATEHOUSE_URL ${JSON.stringify(baseUrl)} is not a URL` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { ok: false, reason: `GATEHOUSE_URL must be http:// or https://, not ${url.protocol}` };
  if (url.username || url.password) return { ok: false, reason: 'GATEHOUSE_URL must not carry a user name or password' };
  return { ok: true, url };
}

export class PinnedServer implements AgentServer {
  readonly baseUrl: string;
  private readonly agentToken: string;
  private readonly bearer: string;
  private readonly log: (message: string) => void;
  /** One connection at a time, kept alive between calls (its idle socket is unref'd by
   *  node, so a hook process still exits when done). */
  private readonly agent: HttpAgent;
  /** The connection the last valid proof came over; undefined: not proven. */
  private provenSocket: Socket | undefined;

  constructor(options: PinnedServerOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.agentToken = options.agentToken;
    this.bearer = options.bearer ?? options.agentToken;
    this.log = options.log ?? (() => {});
    const agentOptions = { keepAlive: true, maxSockets: 1, maxFreeSockets: 1 };
    this.agent = this.baseUrl.startsWith('https:') ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions);
  }

  get isProven(): boolean {
    return this.provenSocket !== undefined && !this.provenSocket.destroyed;
  }

  forget(): void {
    this.provenSocket = undefined;
  }

  close(): void {
    this.forget();
    this.agent.destroy();
  }

  async prove(timeoutMs: number, signal?: AbortSignal): Promise<ProofOutcome> {
    if (this.isProven) return { ok: true };
    this.forget();
    const checked = checkServerUrl(this.baseUrl);
    if (!checked.ok) return { ok: false, kind: 'unproven', reason: checked.reason };
    const nonce = randomBytes(32).toString('hex');
    const host = hostHeaderOf(checked.url);
    let socket: Socket | undefined;
    let answer: HttpResult;
    try {
      answer = await httpJson('POST', `${this.baseUrl}${HELLO_PATH}`, {
        headers: { host },
        body: { nonce },
        timeoutMs,
        signal,
        agent: this.agent,
        acceptSocket: (given) => {
          socket = given;
          return undefined;
        },
      });
    } catch (error) {
      const failure = error as HttpFailure;
      if (failure.kind === 'aborted') return { ok: false, kind: 'aborted', reason: 'stopped before the server proved itself' };
      return { ok: false, kind: 'down', reason: failure.message };
    }
    const proof = (answer.body as { proof?: unknown } | undefined)?.proof;
    if (answer.status !== 200 || !helloProofValid(this.agentToken, nonce, host, proof)) {
      const why = answer.status !== 200 ? `its hello answered ${answer.status}` : 'its hello proof is wrong';
      this.log(`hello to ${host}: ${why}`);
      return {
        ok: false,
        kind: 'unproven',
        reason: `the server at ${this.baseUrl} did not prove it knows the agent token (${why}): it is not this Gatehouse, or it uses another data directory, so nothing was sent to it`,
      };
    }
    if (!socket || socket.destroyed) {
      // The server closed the connection after its proof: nothing to send the token on.
      return { ok: false, kind: 'down', reason: 'the server closed the connection right after its hello' };
    }
    this.log(`hello to ${host}: proven`);
    this.provenSocket = socket;
    return { ok: true };
  }

  async call(method: string, path: string, options: CallOptions): Promise<HttpResult> {
    const deadline = Date.now() + options.timeoutMs;
    // Twice at most: once on the proven connection, and once more on a fresh one (proven
    // first) when the server had closed it in between.
    for (let attempt = 0; ; attempt += 1) {
      // A hello is answered at once by a live server: a long-poll's budget is not its.
      const proof = await this.prove(Math.max(1, Math.min(deadline - Date.now(), 2000)), options.signal);
      if (!proof.ok) {
        if (proof.kind === 'aborted') throw new HttpFailure('aborted', 'aborted');
        if (proof.kind === 'unproven') throw new NotProven(proof.reason);
        throw new HttpFailure(proof.reason, 'unreachable');
      }
      const proven = this.provenSocket;
      try {
        return await httpJson(method, `${this.baseUrl}${path}`, {
          headers: { ...options.headers, authorization: `Bearer ${this.bearer}` },
          body: options.body,
          timeoutMs: Math.max(1, deadline - Date.now()),
          signal: options.signal,
          agent: this.agent,
          acceptSocket: (socket) => (socket === proven ? undefined : 'not the connection the server proved itself on'),
        });
      } catch (error) {
        if (error instanceof SocketRefused && attempt === 0) {
          this.log('the proven connection closed: proving the new one');
          this.forget();
          continue;
        }
        // Any other failure: whatever answers next must prove itself again.
        this.forget();
        throw error;
      }
    }
  }
}
