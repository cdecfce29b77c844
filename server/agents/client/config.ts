/**
 * Where the agent-side clients (`hook`, `mcp`, and any other integration that runs
 * beside the agent) find the server and their credential (docs/integrations.md, "The
 * agent token and the pinned server"): GATEHOUSE_URL (default http://127.0.0.1:3000),
 * and the AGENT token only: GATEHOUSE_AGENT_TOKEN, else `<data-dir>/agent-token` (data
 * dir: GATEHOUSE_DATA_DIR, else ~/.gatehouse). Never the owner token (GATEHOUSE_TOKEN or
 * the `token` file): the agent must not hold the credential that decides its own
 * requests. Never throws: a missing or unusable token is `agentToken: undefined` with a
 * reason, and the caller steps aside (hook) or denies (mcp).
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { AGENT_TOKEN_FILE } from '../../security/token.ts';

export type ClientConfig = {
  baseUrl: string;
  /** The agent token; undefined when none is available (see `missingToken`). */
  agentToken?: string;
  /** Why there is no agent token, for stderr and the MCP deny message. */
  missingToken?: string;
  dataDir: string;
  debug: boolean;
};

export const DEFAULT_URL = 'http://127.0.0.1:3000';

/** What the server accepts as a token file's content (server/security/token.ts). */
export const TOKEN_SHAPE = /^[\x21-\x7e]{16,512}$/;

export function dataDirOf(env: NodeJS.ProcessEnv): string {
  const dir = env.GATEHOUSE_DATA_DIR?.trim();
  return dir ? resolve(dir) : join(env.HOME?.trim() || homedir(), '.gatehouse');
}

export function agentTokenFileOf(dataDir: string): string {
  return join(dataDir, AGENT_TOKEN_FILE);
}

function loadAgentToken(env: NodeJS.ProcessEnv, dataDir: string): { token: string } | { missing: string } {
  const file = agentTokenFileOf(dataDir);
  const fromEnv = env.GATEHOUSE_AGENT_TOKEN?.trim();
  if (fromEnv) {
    return TOKEN_SHAPE.test(fromEnv)
      ? { token: fromEnv }
      : { missing: 'no agent token: GATEHOUSE_AGENT_TOKEN is not a valid token (16 to 512 printable characters)' };
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? `${file} does not exist` : `${file} cannot be read (${code ?? (error as Error).message})`;
    return {
      missing: `no agent token: set GATEHOUSE_AGENT_TOKEN, or start the server once with this data directory so it writes ${file} (${why}); the owner token is never used here`,
    };
  }
  return TOKEN_SHAPE.test(text) ? { token: text } : { missing: `no agent token: ${file} does not hold a valid token (16 to 512 printable characters)` };
}

export function loadClientConfig(env: NodeJS.ProcessEnv = process.env): ClientConfig {
  const dataDir = dataDirOf(env);
  const loaded = loadAgentToken(env, dataDir);
  const baseUrl = (env.GATEHOUSE_URL?.trim() || DEFAULT_URL).replace(/\/+$/, '');
  const debug = /(^|[\s,])(\*|hook|mcp|gatehouse:hook|gatehouse:mcp)($|[\s,])/.test(env.DEBUG ?? '');
  return 'token' in loaded ? { baseUrl, agentToken: loaded.token, dataDir, debug } : { baseUrl, missingToken: loaded.missing, dataDir, debug };
}

/** A stderr logger that prints only when DEBUG asks (hook and mcp own stdout). */
export function debugLog(enabled: boolean, tag: string): (message: string) => void {
  return (message) => {
    if (enabled) process.stderr.write(`gatehouse ${tag}: ${message}\n`);
  };
}
