import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import webpush from 'web-push';
import { afterEach, describe, expect, it } from 'vitest';
import { loadOrCreateVapidKeys, VAPID_FILE } from './vapid.ts';

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-vapid-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('VAPID keys', () => {
  it('PUSH-1: generated once with mode 0600, then read back unchanged', () => {
    const dir = tempDir();
    const first = loadOrCreateVapidKeys(dir);
    expect(first.source).toBe('generated');
    expect(statSync(join(dir, VAPID_FILE)).mode & 0o777).toBe(0o600);
    const second = loadOrCreateVapidKeys(dir);
    expect(second).toEqual({ keys: first.keys, source: 'file', warning: undefined });
    expect(Buffer.from(first.keys.privateKey, 'base64url')).toHaveLength(32);
  });

  it('PUSH-1: a file readable by others is tightened with a warning', () => {
    const dir = tempDir();
    loadOrCreateVapidKeys(dir);
    chmodSync(join(dir, VAPID_FILE), 0o644);
    expect(loadOrCreateVapidKeys(dir).warning).toContain('set to 600');
    expect(statSync(join(dir, VAPID_FILE)).mode & 0o777).toBe(0o600);
  });

  it("PUSH-1: a broken file, or a public key that is not the private key's, stops the start with a message saying what to do", () => {
    const dir = tempDir();
    const file = join(dir, VAPID_FILE);
    writeFileSync(file, 'not json', { mode: 0o600 });
    expect(() => loadOrCreateVapidKeys(dir)).toThrow('delete it');
    const a = webpush.generateVAPIDKeys();
    const b = webpush.generateVAPIDKeys();
    writeFileSync(file, JSON.stringify({ publicKey: b.publicKey, privateKey: a.privateKey }));
    expect(() => loadOrCreateVapidKeys(dir)).toThrow('valid VAPID key pair');
    writeFileSync(file, JSON.stringify({ publicKey: a.publicKey, privateKey: a.privateKey }));
    expect(loadOrCreateVapidKeys(dir).keys.publicKey).toBe(a.publicKey);
    expect(JSON.parse(readFileSync(file, 'utf8')).publicKey).toBe(a.publicKey);
  });
});
