/**
 * The agent's proof that it talks to the real server (contract-2 §2, docs/security.md):
 * before `hook`, `mcp` or any agent-side client sends the agent token, it posts a fresh
 * nonce to `POST /api/agent/hello` (no credential) and checks the answer
 * `proof = HMAC-SHA256(agent token, nonce + "|" + host)`. Only a server that holds the
 * agent token can answer, and binding the proof to the Host the client addressed means a
 * relay on another port cannot pass the real server's proof off as its own. One function
 * serves both sides, so they cannot drift.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { Hono } from 'hono';
import { z } from 'zod';
import { ERROR_CODES, parseWith } from '../../protocol/index.ts';
import { errorResponse } from '../http/errors.ts';

/** 32 to 128 hex characters (128 to 512 bits). */
export const HELLO_NONCE = /^[0-9a-f]{32,128}$/i;

export const helloBody = z.object({ nonce: z.string().regex(HELLO_NONCE, 'expected 32 to 128 hex characters') });

/** `host` is the Host header as sent (with its port); compared in lower case. */
export function helloProof(agentToken: string, nonce: string, host: string): string {
  return createHmac('sha256', agentToken).update(`${nonce}|${host.toLowerCase()}`, 'utf8').digest('hex');
}

/** Constant-time check of a proof the client received. */
export function helloProofValid(agentToken: string, nonce: string, host: string, proof: unknown): boolean {
  if (typeof proof !== 'string' || !/^[0-9a-f]{64}$/.test(proof)) return false;
  return timingSafeEqual(Buffer.from(helloProof(agentToken, nonce, host), 'hex'), Buffer.from(proof, 'hex'));
}

/** `POST /api/agent/hello`: mounted before the token check (the guard lets it through);
 *  the Host header was already checked against the allow-list by the guard. */
export function helloRoutes(agentToken: () => string | undefined): Hono {
  const app = new Hono();
  app.post('/', async (c) => {
    const token = agentToken();
    if (!token) return errorResponse(c, 404, ERROR_CODES.notFound, 'this server has no agent token (auth is off)');
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      return errorResponse(c, 400, ERROR_CODES.invalidMessage, 'body: not valid JSON');
    }
    const parsed = parseWith(helloBody, body);
    if (!parsed.ok) return errorResponse(c, 400, ERROR_CODES.invalidMessage, parsed.error);
    const host = c.req.header('host');
    if (!host) return errorResponse(c, 400, ERROR_CODES.invalidMessage, 'Host: header required');
    return c.json({ proof: helloProof(token, parsed.value.nonce, host) });
  });
  return app;
}
