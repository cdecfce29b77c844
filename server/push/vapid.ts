/**
 * The server's VAPID key pair (RFC 8292): generated on first start and kept in
 * `<data-dir>/vapid.json` with mode 0600, created the way the tokens are
 * (security/token.ts: `wx`, so two processes starting together agree on one pair). The
 * public key is what browsers subscribe with (`GET /api/push/key`); the private key
 * signs each push's JWT and never leaves the file and this process. Losing the file
 * means every subscription must be made again (the push services refuse a JWT signed by
 * another key).
 */
import { createECDH } from 'node:crypto';
import type pg from 'pg';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import webpush from 'web-push';
import { z } from 'zod';

export const VAPID_FILE = 'vapid.json';

export type VapidKeys = { publicKey: string; privateKey: string };

const b64url = z.string().regex(/^[A-Za-z0-9_-]+$/);
const fileSchema = z.object({ publicKey: b64url, privateKey: b64url });

/** The public key must be the private key's own (a hand-edited file must not sign with one
 *  key and advertise another). */
function checkPair(keys: VapidKeys): boolean {
  const privateKey = Buffer.from(keys.privateKey, 'base64url');
  const publicKey = Buffer.from(keys.publicKey, 'base64url');
  if (privateKey.length !== 32 || publicKey.length !== 65) return false;
  try {
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(privateKey);
    return ecdh.getPublicKey().equals(publicKey);
  } catch {
    return false;
  }
}

export type LoadedVapidKeys = { keys: VapidKeys; source: 'file' | 'generated' | 'store'; warning?: string | undefined };

/**
 * With a shared store (contract-2 §6, SPEC.md TEAM-S3) the pair lives in its one-row table
 * `vapid_keys`: the first instance's INSERT wins (`ON CONFLICT DO NOTHING`) and every
 * instance reads the row back, so all sign with one key and a browser subscribed through
 * one instance receives pushes sent by any other. A stored pair that is not a pair is
 * refused, as a bad file is.
 */
export async function loadOrCreateSharedVapidKeys(pool: pg.Pool): Promise<LoadedVapidKeys> {
  const generated = webpush.generateVAPIDKeys();
  const inserted = await pool.query('INSERT INTO vapid_keys (id, public_key, private_key) VALUES (true, $1, $2) ON CONFLICT (id) DO NOTHING', [
    generated.publicKey,
    generated.privateKey,
  ]);
  const row = (await pool.query<{ public_key: string; private_key: string }>('SELECT public_key, private_key FROM vapid_keys')).rows[0];
  const parsed = fileSchema.safeParse({ publicKey: row?.public_key, privateKey: row?.private_key });
  if (!parsed.success || !checkPair(parsed.data)) {
    throw new Error(
      'the shared store does not hold a valid VAPID key pair (table vapid_keys): delete its row to generate a new one (browsers must then subscribe again)',
    );
  }
  return { keys: parsed.data, source: (inserted.rowCount ?? 0) > 0 ? 'generated' : 'store' };
}

export function loadOrCreateVapidKeys(dataDir: string): { keys: VapidKeys; source: 'file' | 'generated'; warning?: string | undefined } {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = join(dataDir, VAPID_FILE);
  try {
    const text = readFileSync(file, 'utf8');
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    const result = fileSchema.safeParse(parsed);
    if (!result.success || !checkPair(result.data)) {
      throw new Error(`${file} does not hold a valid VAPID key pair (P-256, base64url); delete it to generate a new one (browsers must then subscribe again)`);
    }
    let warning: string | undefined;
    const mode = statSync(file).mode & 0o777;
    if (mode & 0o077) {
      chmodSync(file, 0o600);
      warning = `${file} was readable by others (mode ${mode.toString(8)}); set to 600`;
    }
    return { keys: result.data, source: 'file', warning };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const generated = webpush.generateVAPIDKeys();
  const keys: VapidKeys = { publicKey: generated.publicKey, privateKey: generated.privateKey };
  try {
    writeFileSync(file, JSON.stringify(keys) + '\n', { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return loadOrCreateVapidKeys(dataDir);
    throw error;
  }
  return { keys, source: 'generated' };
}
