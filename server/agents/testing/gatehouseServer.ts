/**
 * Starts a REAL Gatehouse server process for this area's integration tests (the server
 * engineer's `startServerProcess`) and gives the test a "human" to decide with (the
 * owner token); the agent-side commands get the agent token.
 */
import { startServerProcess, type ServerProcess } from '../../testing/index.ts';
import { httpHuman, type Human } from './human.ts';

export type TestGatehouse = {
  url: string;
  /** The owner token: what the test's human decides with. */
  token: string;
  /** The agent token: what `hook` and `mcp` get. */
  agentToken: string;
  dataDir: string;
  human: Human;
  server: ServerProcess;
  stop(): Promise<void>;
};

export async function startTestGatehouse(
  options: { port?: number; dataDir?: string; args?: string[]; env?: Record<string, string> } = {},
): Promise<TestGatehouse> {
  const args = [...(options.args ?? [])];
  if (options.port !== undefined) args.push('--port', String(options.port));
  const server = await startServerProcess({ args, ...(options.dataDir ? { dataDir: options.dataDir } : {}), ...(options.env ? { env: options.env } : {}) });
  const token = server.token ?? '';
  return {
    url: server.baseUrl,
    token,
    agentToken: server.agentToken ?? '',
    dataDir: server.dataDir,
    human: httpHuman(server.baseUrl, token),
    server,
    async stop() {
      await server.stop();
    },
  };
}
