/**
 * How tests run `gatehouse hook|mcp|setup`: through `bin/gatehouse` (the real launcher)
 * once `server/cli/main.ts` exists, else through `cliEntry.ts` with the same tsx loader.
 * `gatehouseCommandLine()` gives a shell command line for Claude Code settings.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { GATEHOUSE_BIN, PROJECT_ROOT } from './claudeCli.ts';

const TSX_LOADER = join(PROJECT_ROOT, 'node_modules/tsx/dist/loader.mjs');

export function gatehouseCommand(): { command: string; args: string[] } {
  if (existsSync(join(PROJECT_ROOT, 'server/cli/main.ts'))) return { command: GATEHOUSE_BIN, args: [] };
  return { command: process.execPath, args: ['--import', `file://${TSX_LOADER}`, join(PROJECT_ROOT, 'server/agents/testing/cliEntry.ts')] };
}

const quote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;

export function gatehouseCommandLine(...args: string[]): string {
  const { command, args: prefix } = gatehouseCommand();
  return [command, ...prefix, ...args].map(quote).join(' ');
}
