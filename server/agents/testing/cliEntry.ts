/**
 * Test-only entry that runs one of this area's commands (`hook`, `mcp`, `setup`) the way
 * `server/cli/main.ts` dispatches them, for when the dispatcher is not there yet. Prefer
 * `bin/gatehouse`: `gatehouseCommand()` picks it as soon as main.ts exists.
 */
const [command, ...rest] = process.argv.slice(2);
const modules: Record<string, () => Promise<{ default: (argv: string[]) => Promise<number | void> }>> = {
  hook: () => import('../../cli/hook.ts'),
  mcp: () => import('../../cli/mcp.ts'),
  setup: () => import('../../cli/setup.ts'),
};
const load = command ? modules[command] : undefined;
if (!load) {
  process.stderr.write(`usage: cliEntry.ts hook|mcp|setup [args]\n`);
  process.exit(2);
}
const code = await (await load()).default(rest);
process.exitCode = typeof code === 'number' ? code : 0;
export {};
