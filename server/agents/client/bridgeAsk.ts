/**
 * Asking Gatehouse from a long-lived agent bridge (`acp`, `opencode`): each ask proves the
 * server afresh on a connection of its own, as `mcp` does per approve, and creates
 * without waiting, because the bridge may cancel the request with its own reason
 * (answered in the editor, or in another client) and so needs the id at once. A cancel
 * goes on a proven connection of its own too (the ask's is busy with its long-poll).
 * With no agent token, every ask is unavailable and nothing is sent.
 */
import { LIMITS } from '../../../protocol/index.ts';
import { type AskOutcome, type AskSpec, askGatehouse } from './ask.ts';
import type { ClientConfig } from './config.ts';
import { PinnedServer } from './pinned.ts';

export const BRIDGE_DEFAULTS = {
  /** The hello and the create: a silent server costs at most this before the agent's own flow decides. */
  createTimeoutMs: 3000,
  /** After a request's own deadline, how long to keep listening for the server's timeout deny. */
  graceAfterExpiresMs: 5000,
} as const;

export type GatehouseBridge = {
  ask(spec: AskSpec, onCreated: (requestId: string) => void, signal: AbortSignal): Promise<AskOutcome>;
  /** Only ever for a request this bridge created on this server. */
  cancel(requestId: string, reason: string): Promise<void>;
};

export function gatehouseBridge(config: ClientConfig, log: (message: string) => void, verbose: boolean): GatehouseBridge {
  const pinned = (agentToken: string) => new PinnedServer({ baseUrl: config.baseUrl, agentToken, log: verbose ? log : () => {} });
  return {
    async ask(spec, onCreated, signal) {
      if (!config.agentToken) return { kind: 'unavailable', down: false, reason: config.missingToken ?? 'no agent token' };
      const server = pinned(config.agentToken);
      try {
        return await askGatehouse(spec, {
          server,
          createTimeoutMs: BRIDGE_DEFAULTS.createTimeoutMs,
          giveUpAt: Date.now() + LIMITS.maxTimeoutMs,
          graceAfterExpiresMs: BRIDGE_DEFAULTS.graceAfterExpiresMs,
          signal,
          onCreated,
          createWaitSeconds: 0,
          log: (message) => {
            if (verbose) log(message);
          },
        });
      } finally {
        server.close();
      }
    },
    async cancel(requestId, reason) {
      if (!config.agentToken) return;
      const server = pinned(config.agentToken);
      try {
        const path = `/api/permission-requests/${encodeURIComponent(requestId)}?reason=${encodeURIComponent(reason)}`;
        const answer = await server.call('DELETE', path, { timeoutMs: 2000 });
        if (verbose) log(`cancelled ${requestId} (${reason}): ${answer.status}`);
      } finally {
        server.close();
      }
    },
  };
}
