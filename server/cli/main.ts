/**
 * `bin/gatehouse <command>`: dispatches to the command's module. Each command module
 * exports `default async function main(argv: string[]): Promise<number | void>`; modules
 * are imported on demand so `hook` (run by Claude Code for every tool call) loads only
 * what it needs, and a missing module fails with a clear message.
 */
const COMMANDS: Record<string, { module: string; summary: string }> = {
  serve: { module: './serve.ts', summary: 'run the server (flags: gatehouse serve --help)' },
  hook: { module: './hook.ts', summary: 'Claude Code (or --agent codex: Codex) command hook: hook JSON on stdin, decision JSON on stdout' },
  mcp: { module: './mcp.ts', summary: 'stdio MCP server with the tool "approve"' },
  acp: { module: './acp.ts', summary: 'ACP proxy for editors: gatehouse acp [--no-editor] -- CMD [ARGS…]' },
  opencode: { module: './opencode.ts', summary: 'answer the permission asks of a running `opencode serve`: gatehouse opencode --url URL' },
  pair: { module: './pair.ts', summary: 'print a one-time link and QR code that pairs a phone (owner token, sent only to a proven server)' },
  setup: { module: './setup.ts', summary: 'print (or --write) the Claude Code or Codex settings for this server' },
};

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(8)} ${c.summary}`);
  return `Usage: gatehouse <command> [options]\n\nCommands:\n${lines.join('\n')}\n`;
}

export async function run(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(usage());
    return command ? 0 : 2;
  }
  const entry = COMMANDS[command];
  if (!entry) {
    process.stderr.write(`gatehouse: unknown command "${command}"\n\n${usage()}`);
    return 2;
  }
  let mod: { default?: (argv: string[]) => Promise<number | void> };
  try {
    mod = await import(entry.module);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND' && String((error as Error).message).includes(entry.module.slice(2))) {
      process.stderr.write(`gatehouse: the "${command}" command is not available in this build (${entry.module} is missing)\n`);
      return 1;
    }
    throw error;
  }
  if (typeof mod.default !== 'function') {
    process.stderr.write(`gatehouse: ${entry.module} has no default export to run\n`);
    return 1;
  }
  const result = await mod.default(rest);
  return typeof result === 'number' ? result : 0;
}

const isEntry = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isEntry) {
  run(process.argv.slice(2)).then(
    (code) => {
      // `serve` keeps running; the others end here.
      if (code !== 0 || process.argv[2] !== 'serve') process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`gatehouse: ${(error as Error)?.message ?? String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
