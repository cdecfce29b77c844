/**
 * How tests run `gatehouse hook|mcp|setup`: through `bin/gatehouse`, the real launcher.
 * `gatehouseCommandLine()` gives a shell command line for Claude Code settings.
 */
import { GATEHOUSE_BIN } from './claudeCli.ts';

export function gatehouseCommand(): { command: string; args: string[] } {
  return { command: GATEHOUSE_BIN, args: [] };
}

const quote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;

export function gatehouseCommandLine(...args: string[]): string {
  const { command, args: prefix } = gatehouseCommand();
  return [command, ...prefix, ...args].map(quote).join(' ');
}
