/**
 * `gatehouse mcp`: a stdio MCP server named `gatehouse` with one tool, `approve`, for
 * `claude --permission-prompt-tool mcp__gatehouse__approve`. stdout carries only the MCP
 * protocol; logs go to stderr, only with DEBUG=mcp.
 *
 * It holds the agent token only and sends it only to a server that proved it knows it
 * (`POST /api/agent/hello`, once per approve call, again after a lost connection). With no
 * agent token, or a server that cannot prove itself, every `approve` denies saying why.
 *
 *   --timeout-ms MS   the request's own timeout (GATEHOUSE_MCP_TIMEOUT_MS; default: the
 *                     server's --request-timeout)
 */
import { parseArgs } from 'node:util';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { debugLog, loadClientConfig } from '../agents/client/config.ts';
import { PinnedServer } from '../agents/client/pinned.ts';
import { approve, approveInputShape, MCP_SERVER_NAME, MCP_TOOL_NAME } from '../agents/mcp/approveTool.ts';

function positiveInt(value: string | undefined): number | undefined {
  if (!value?.trim()) return undefined;
  const number = Number(value);
  return Number.isInteger(number) && number > 0 ? number : undefined;
}

export default async function main(argv: string[]): Promise<number> {
  const config = loadClientConfig(process.env);
  const log = debugLog(config.debug, 'mcp');
  let flags: { 'timeout-ms'?: string } = {};
  try {
    flags = parseArgs({ args: argv, options: { 'timeout-ms': { type: 'string' } }, strict: true }).values;
  } catch (error) {
    process.stderr.write(`gatehouse mcp: ${(error as Error).message}\n`);
    return 2;
  }
  const timeoutMs = positiveInt(flags['timeout-ms']) ?? positiveInt(process.env.GATEHOUSE_MCP_TIMEOUT_MS);

  if (!config.agentToken) process.stderr.write(`gatehouse mcp: ${config.missingToken}; every approve will deny\n`);

  const server = new McpServer({ name: MCP_SERVER_NAME, version: '1.0.0' });
  server.registerTool(
    MCP_TOOL_NAME,
    {
      title: 'Ask Gatehouse',
      description: 'Asks a human, through Gatehouse, whether a tool call may run. Answers allow (with the possibly edited input) or deny (with a message).',
      inputSchema: approveInputShape,
    },
    async (args, extra) => {
      log(`approve ${args.tool_name} ${args.tool_use_id ?? ''}`);
      if (!config.agentToken) {
        const denied = { behavior: 'deny', message: `Gatehouse could not ask for a decision, so this is denied: ${config.missingToken}.` };
        return { content: [{ type: 'text', text: JSON.stringify(denied) }] };
      }
      // Proven afresh for each approve, on a connection of its own (as a hook process is):
      // between calls the server may have restarted and something else taken its port.
      const gatehouse = new PinnedServer({ baseUrl: config.baseUrl, agentToken: config.agentToken, log });
      const answer = await approve(
        args,
        {
          server: gatehouse,
          createTimeoutMs: 5000,
          giveUpAt: Number.MAX_SAFE_INTEGER,
          graceAfterExpiresMs: 10_000,
          timeoutMs,
          cwd: process.cwd(),
          log,
        },
        extra.signal,
      ).finally(() => gatehouse.close());
      log(`answer ${JSON.stringify(answer)}`);
      return { content: [{ type: 'text', text: JSON.stringify(answer) }] };
    },
  );
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => {
    transport.onclose = () => resolve();
    process.stdin.once('end', () => resolve());
  });
  await server.connect(transport);
  log('ready');
  await closed;
  await server.close().catch(() => {});
  return 0;
}
