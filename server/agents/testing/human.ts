/**
 * A test acting as the human: watches a Gatehouse server for pending requests over the
 * HTTP API (`GET /api/permission-requests?status=pending`, polled with short pauses) and
 * decides them (`POST /api/permission-requests/ID/decision`).
 */
import type { RequestView } from '../../../protocol/index.ts';
import { httpJson } from '../client/http.ts';

export type Human = {
  /** Resolves with the first pending request not returned before (rejects after `timeoutMs`). */
  nextPending(timeoutMs?: number): Promise<RequestView>;
  decide(
    id: string,
    body: { decision: 'allow' | 'deny'; updatedInput?: Record<string, unknown>; message?: string; remember?: { scope: string }; agentChoice?: string },
  ): Promise<{ status: number; body: unknown }>;
  get(id: string): Promise<RequestView>;
};

export function httpHuman(baseUrl: string, token?: string): Human {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const seen = new Set<string>();
  return {
    async nextPending(timeoutMs = 20_000) {
      const giveUp = Date.now() + timeoutMs;
      for (;;) {
        const result = await httpJson('GET', `${baseUrl}/api/permission-requests?status=pending`, { headers, timeoutMs: 5000 });
        const list = (result.body as { requests?: RequestView[] } | undefined)?.requests ?? [];
        const fresh = list.find((request) => !seen.has(request.id));
        if (fresh) {
          seen.add(fresh.id);
          return fresh;
        }
        if (Date.now() > giveUp) throw new Error(`no pending request within ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async decide(id, body) {
      const result = await httpJson('POST', `${baseUrl}/api/permission-requests/${encodeURIComponent(id)}/decision`, { headers, body, timeoutMs: 5000 });
      return { status: result.status, body: result.body };
    },
    async get(id) {
      const result = await httpJson('GET', `${baseUrl}/api/permission-requests/${encodeURIComponent(id)}`, { headers, timeoutMs: 5000 });
      return result.body as RequestView;
    },
  };
}
