/**
 * The agent's proof that it talks to the real server (contract-2 §2, docs/security.md):
 * before `hook`, `mcp` or any agent-side client sends the agent token, it posts a fresh
 * nonce to `POST /api/agent/hello` (no credential) and checks the answer
 * `proof = HMAC-SHA256(agent token, nonce + "|" + host)`. Only a server that holds the
 * agent token can answer, and binding the proof to the Host the client addressed means a
 * relay on another port cannot pass the real server's proof off as its own. One function
 * serves both sides, so they cannot drift; this module imports node:crypto only, so the
 * hook (started on every tool call) loads nothing more for it. The route is hello.ts.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Open to anyone who passed the Host check: the hello proves the server, not the caller. */
export const HELLO_PATH = '/api/agent/hello';

/** 32 to 128 hex characters (128 to 512 bits). */
export const HELLO_NONCE = /^[0-9a-f]{32,128}$/i;

/** `host` is the Host header as sent (with its port); compared in lower case. */
export function helloProof(agentToken: string, nonce: string, host: string): string {
  return createHmac('sha256', agentToken).update(`${nonce}|${host.toLowerCase()}`, 'utf8').digest('hex');
}

/** Constant-time check of a proof the client received. */
export function helloProofValid(agentToken: string, nonce: string, host: string, proof: unknown): boolean {
  if (typeof proof !== 'string' || !/^[0-9a-f]{64}$/.test(proof)) return false;
  return timingSafeEqual(Buffer.from(helloProof(agentToken, nonce, host), 'hex'), Buffer.from(proof, 'hex'));
}
