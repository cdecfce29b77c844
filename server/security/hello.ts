/**
 * `POST /api/agent/hello` (contract-2 §2): answers the agent's nonce with the proof of
 * helloProof.ts, with no credential. The guard lets it through after the Host check.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { ERROR_CODES, type HelloAnswer, parseWith } from '../../protocol/index.ts';
import { errorResponse } from '../http/errors.ts';
import { HELLO_NONCE, helloProof } from './helloProof.ts';

export const helloBody = z.object({ nonce: z.string().regex(HELLO_NONCE, 'expected 32 to 128 hex characters') });

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
    return c.json<HelloAnswer>({ proof: helloProof(token, parsed.value.nonce, host) });
  });
  return app;
}
