/**
 * The pinned server (contract-2 §2, docs/integrations.md "The agent token and the pinned
 * server"): an agent-side client sends its agent token only to a server that first
 * proved it knows that token. The proof is `POST /api/agent/hello` with a fresh random
 * nonce and no credential, answered with HMAC(agent token, nonce|host), checked with the
 * shared `helloProofValid` for exactly the Host header we send. Anything else at
 * GATEHOUSE_URL (another dev server on port 3000, a lure, a relay on another port) gets
 * the hello and nothing more.
 *
 * One proof per process while the connection holds: `forget()` after a lost connection
 * (the server may have restarted, and something else may hold its port now) makes the
 * next token-bearing call prove again.
 */
import { randomBytes } from 'node:crypto';
import { helloProofValid } from '../../security/hello.ts';
import { HELLO_PATH } from '../../security/guard.ts';
import { HttpFailure, hostHeaderOf, httpJson } from './http.ts';

export type ProofOutcome =
  | { ok: true }
  /** `down`: no answer at all; `unproven`: it answered, but not with a valid proof;
   *  `aborted`: the caller gave up first. Only `ok` lets the token out. */
  | { ok: false; kind: 'down' | 'unproven' | 'aborted'; reason: string };

export type PinnedServerOptions = {
  baseUrl: string;
  agentToken: string;
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

/** What the ask loop needs of a server; `PinnedServer` is the one real clients use. */
export type AgentServer = {
  readonly baseUrl: string;
  readonly isProven: boolean;
  prove(timeoutMs: number, signal?: AbortSignal): Promise<ProofOutcome>;
  authHeaders(): Record<string, string>;
  forget(): void;
};

export class PinnedServer implements AgentServer {
  readonly baseUrl: string;
  private readonly agentToken: string;
  private readonly log: (message: string) => void;
  private proven = false;

  constructor(options: PinnedServerOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.agentToken = options.agentToken;
    this.log = options.log ?? (() => {});
  }

  get isProven(): boolean {
    return this.proven;
  }

  /** The credential header, for a server that proved itself; throws otherwise, so no
   *  code path can send the token unproven by mistake. */
  authHeaders(): Record<string, string> {
    if (!this.proven) throw new Error('the server has not proved it knows the agent token');
    return { authorization: `Bearer ${this.agentToken}` };
  }

  /** The connection was lost (or the token refused): prove again before the next call. */
  forget(): void {
    this.proven = false;
  }

  async prove(timeoutMs: number, signal?: AbortSignal): Promise<ProofOutcome> {
    if (this.proven) return { ok: true };
    const checked = checkServerUrl(this.baseUrl);
    if (!checked.ok) return { ok: false, kind: 'unproven', reason: checked.reason };
    const nonce = randomBytes(32).toString('hex');
    const host = hostHeaderOf(checked.url);
    let answer;
    try {
      answer = await httpJson('POST', `${this.baseUrl}${HELLO_PATH}`, { headers: { host }, body: { nonce }, timeoutMs, signal });
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
    this.log(`hello to ${host}: proven`);
    this.proven = true;
    return { ok: true };
  }
}
