/**
 * The agents' server for a bench Gatehouse run with --no-auth (and for the node:http
 * floor): no agent token, so no hello to prove it. Real clients always pin
 * (server/agents/client/pinned.ts).
 */
import type { Agent } from 'node:http';
import { httpJson } from '../server/agents/client/http.ts';
import type { AgentServer } from '../server/agents/client/pinned.ts';

export function unpinned(baseUrl: string, keepAlive: Agent | undefined): AgentServer {
  return {
    baseUrl,
    prove: async () => ({ ok: true }),
    call: (method, path, o) => httpJson(method, `${baseUrl}${path}`, keepAlive ? { ...o, agent: keepAlive } : o),
    forget() {},
    close() {},
  };
}
