/**
 * The two credentials (docs/security.md): the owner token (GATEHOUSE_TOKEN, else
 * `<data-dir>/token`) and the agent token (GATEHOUSE_AGENT_TOKEN, else
 * `<data-dir>/agent-token`), each created on first start with 256 random bits and mode
 * 0600. Also the constant-time comparison and the session cookie's name. The cookie's
 * value is a device's own random secret (server/store/deviceStore.ts), never anything
 * derived from a token: a derived value could not be revoked and would be the same in
 * every browser.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const TOKEN_FILE = 'token';
/** The agent role's credential: what `hook`, `mcp` and other agent-side commands read. */
export const AGENT_TOKEN_FILE = 'agent-token';

export type TokenSource = 'env' | 'file' | 'generated';

export function generateToken(): string {
  return randomBytes(32).toString('base64url');
}

/** The token kept in `fileName` of this data directory; creates the file when missing. */
export function loadOrCreateToken(
  dataDir: string,
  envToken: string | undefined,
  fileName: string = TOKEN_FILE,
): { token: string; source: TokenSource; warning?: string | undefined } {
  if (envToken) return { token: envToken, source: 'env' };
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = join(dataDir, fileName);
  try {
    const token = readFileSync(file, 'utf8').trim();
    if (!/^[\x21-\x7e]{16,512}$/.test(token)) {
      throw new Error(`${file} does not hold a valid token (16 to 512 printable characters); delete it to generate a new one`);
    }
    let warning: string | undefined;
    const mode = statSync(file).mode & 0o777;
    if (mode & 0o077) {
      chmodSync(file, 0o600);
      warning = `${file} was readable by others (mode ${mode.toString(8)}); set to 600`;
    }
    return { token, source: 'file', warning };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const token = generateToken();
  try {
    // `wx`: if another process created it meanwhile, use theirs.
    writeFileSync(file, token + '\n', { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return loadOrCreateToken(dataDir, undefined, fileName);
    throw error;
  }
  return { token, source: 'generated' };
}

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/** Constant time whatever the lengths: compares equal-length SHA-256 digests. */
export function tokensEqual(presented: string, expected: string): boolean {
  return timingSafeEqual(digest(presented), digest(expected));
}

/** Every name sessionCookieName gives (a regular expression's source): the log redacts
 *  these cookies' values (log.ts). */
export const SESSION_COOKIE_NAME_PATTERN = 'gatehouse_(?:\\d+|e[0-9A-Za-z]+)';

/** The session cookie's name, its one definition. Browsers ignore ports when they send
 *  cookies, so the name keeps two Gatehouses on one host apart. One instance: the name
 *  carries its port (`gatehouse_<port>`). Several instances of one Gatehouse (`--bus`,
 *  docs/cluster.md): it carries the shared store's epoch instead (`gatehouse_e<epoch>`),
 *  so every instance behind one proxy reads the same cookie whatever port it listens on,
 *  and a Gatehouse on another database (another epoch) uses another name. */
export function sessionCookieName(of: { port: number; cluster?: string | undefined }): string {
  if (of.cluster === undefined) return `gatehouse_${of.port}`;
  // An epoch is 16 hex digits; anything else (a test's fixed epoch) is hashed into a cookie-safe name.
  const id = /^[A-Za-z0-9]{1,32}$/.test(of.cluster) ? of.cluster : createHash('sha256').update(of.cluster, 'utf8').digest('hex').slice(0, 16);
  return `gatehouse_e${id}`;
}
