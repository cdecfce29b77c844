/**
 * Where the command-line clients (`hook`, `mcp`) find the server and its token
 * (protocol-v1.md §5): GATEHOUSE_URL (default http://127.0.0.1:3000), GATEHOUSE_TOKEN,
 * else `<GATEHOUSE_DATA_DIR or ~/.gatehouse>/token`. Never throws: a missing token is
 * simply absent (the server may run with auth off).
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export type ClientConfig = {
  baseUrl: string;
  token?: string;
  dataDir: string;
  debug: boolean;
};

export const DEFAULT_URL = 'http://127.0.0.1:3000';

export function dataDirOf(env: NodeJS.ProcessEnv): string {
  const dir = env.GATEHOUSE_DATA_DIR?.trim();
  return dir ? resolve(dir) : join(env.HOME?.trim() || homedir(), '.gatehouse');
}

export function loadClientConfig(env: NodeJS.ProcessEnv = process.env): ClientConfig {
  const dataDir = dataDirOf(env);
  let token = env.GATEHOUSE_TOKEN?.trim() || undefined;
  if (!token) {
    try {
      token = readFileSync(join(dataDir, 'token'), 'utf8').trim() || undefined;
    } catch {
      token = undefined;
    }
  }
  const baseUrl = (env.GATEHOUSE_URL?.trim() || DEFAULT_URL).replace(/\/+$/, '');
  const debug = /(^|[\s,])(\*|hook|mcp|gatehouse:hook|gatehouse:mcp)($|[\s,])/.test(env.DEBUG ?? '');
  return { baseUrl, token, dataDir, debug };
}

/** A stderr logger that prints only when DEBUG asks (hook and mcp own stdout). */
export function debugLog(enabled: boolean, tag: string): (message: string) => void {
  return (message) => {
    if (enabled) process.stderr.write(`gatehouse ${tag}: ${message}\n`);
  };
}
