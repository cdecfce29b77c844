/**
 * Drives the real `bin/gatehouse mcp` over stdio with the MCP SDK's client, as Claude
 * Code would, without starting Claude Code: fast enough for the pinning tests.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { gatehouseCommand } from './gatehouseCli.ts';

export type McpRun = {
  /** Calls `approve` and returns the parsed answer of its one text block. */
  approve(args: {
    tool_name: string;
    input: Record<string, unknown>;
    tool_use_id?: string;
  }): Promise<{ behavior: string; message?: string; updatedInput?: Record<string, unknown> }>;
  stderr(): string;
  close(): Promise<void>;
};

export async function startMcp(env: Record<string, string | undefined>): Promise<McpRun> {
  const { command, args } = gatehouseCommand();
  const clean = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined)) as Record<string, string>;
  const transport = new StdioClientTransport({ command, args: [...args, 'mcp'], env: clean, stderr: 'pipe' });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const client = new Client({ name: 'gatehouse-test', version: '1.0.0' });
  await client.connect(transport);
  return {
    async approve(toolArgs) {
      const result = await client.callTool({ name: 'approve', arguments: toolArgs }, undefined, { timeout: 30_000 });
      const content = result.content as Array<{ type: string; text?: string }>;
      return JSON.parse(content[0]?.text ?? 'null');
    },
    stderr: () => stderr,
    close: () => client.close(),
  };
}
