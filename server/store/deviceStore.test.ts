import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type DeviceStore, SqliteDeviceStore, LAST_SEEN_STEP_MS, MAX_DEVICES, deviceName } from './deviceStore.ts';
import { DB_FILE, SqliteEventStore } from './sqliteStore.ts';

const dirs: string[] = [];
const stores: DeviceStore[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) void s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function open(now: () => number = Date.now, dataDir: string | ':memory:' = ':memory:') {
  const store = new SqliteDeviceStore({ dataDir, now });
  stores.push(store);
  return store;
}

describe('device store', () => {
  it('AUTH-3: a new device gets a 256-bit random secret that opens it; other and malformed secrets open nothing', async () => {
    const store = open();
    const a = await store.create('Chrome on Linux');
    const b = await store.create('Chrome on Linux');
    expect(a.secret).not.toBe(b.secret);
    expect(Buffer.from(a.secret, 'base64url').length).toBe(32);
    expect((await store.lookup(a.secret))?.id).toBe(a.device.id);
    expect((await store.lookup(b.secret))?.id).toBe(b.device.id);
    for (const bad of [
      '',
      a.secret.slice(0, -1),
      `${a.secret}x`,
      a.secret.toUpperCase(),
      'x'.repeat(100_000),
      createHash('sha256').update(a.secret).digest('hex'),
    ]) {
      expect(await store.lookup(bad), bad.slice(0, 50)).toBeUndefined();
    }
  });

  it('AUTH-3: only the SHA-256 hash of a secret is stored', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-devices-'));
    dirs.push(dir);
    const store = open(Date.now, dir);
    const { secret } = await store.create('Firefox on Android');
    const db = new Database(join(dir, DB_FILE), { readonly: true });
    const rows = db.prepare('SELECT * FROM devices').all();
    db.close();
    expect(JSON.stringify(rows)).not.toContain(secret);
    expect(rows).toEqual([expect.objectContaining({ secret_hash: createHash('sha256').update(secret).digest('hex') })]);
  });

  it('AUTH-4: lastSeenAt moves only in steps of a minute, not on every call', async () => {
    let now = 1_000_000;
    const store = open(() => now);
    const { device, secret } = await store.create('Safari on iOS');
    now += LAST_SEEN_STEP_MS - 1;
    expect((await store.seen((await store.lookup(secret))!)).lastSeenAt).toBe(1_000_000);
    expect((await store.get(device.id))!.lastSeenAt).toBe(1_000_000);
    now += 1;
    expect((await store.seen((await store.lookup(secret))!)).lastSeenAt).toBe(now);
    expect(await store.get(device.id)).toEqual({ ...device, lastSeenAt: now });
    // Looking a secret up is not being seen (a refused call sends the cookie too).
    now += LAST_SEEN_STEP_MS * 5;
    await store.lookup(secret);
    expect((await store.get(device.id))!.lastSeenAt).toBe(now - LAST_SEEN_STEP_MS * 5);
  });

  it('AUTH-5: a revoked device opens nothing and is gone from the list; revoking twice says so', async () => {
    const store = open();
    const a = await store.create('A');
    const b = await store.create('B');
    expect(await store.revoke(a.device.id)).toBe(true);
    expect(await store.lookup(a.secret)).toBeUndefined();
    expect((await store.list()).map((d) => d.id)).toEqual([b.device.id]);
    expect(await store.revoke(a.device.id)).toBe(false);
    expect(await store.revoke('no-such')).toBe(false);
  });

  it('AUTH-4: the table joins an existing event database without touching it, and devices outlive the connection', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-devices-'));
    dirs.push(dir);
    const events = new SqliteEventStore({ dataDir: dir, epoch: 'e1' });
    await events.close();
    const first = new SqliteDeviceStore({ dataDir: dir });
    const { device, secret } = await first.create('Edge on Windows');
    await first.close();
    const again = open(Date.now, dir);
    expect(await again.lookup(secret)).toEqual(device);
    const reopened = new SqliteEventStore({ dataDir: dir });
    expect(reopened.epoch).toBe('e1');
    await reopened.close();
  });

  it('AUTH-4: beyond MAX_DEVICES the device seen longest ago makes room', async () => {
    let now = 0;
    const store = open(() => now);
    const first = await store.create('first');
    for (let i = 1; i < MAX_DEVICES; i++) {
      now += 1;
      await store.create(`d${i}`);
    }
    // The first one is used: it is not the one to go.
    now += LAST_SEEN_STEP_MS;
    await store.seen((await store.lookup(first.secret))!);
    const second = (await store.list())[1];
    await store.create('newest');
    const ids = (await store.list()).map((d) => d.id);
    expect(ids).toHaveLength(MAX_DEVICES);
    expect(ids).toContain(first.device.id);
    expect(ids).not.toContain(second?.id);
  });
});

describe('device names', () => {
  it('AUTH-4: a device is named from its User-Agent with fixed words only', async () => {
    const cases: [string | undefined, string][] = [
      ['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36', 'Chrome on Linux'],
      ['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36', 'Chrome on Linux'],
      ['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chromium/120.0 Chrome/120.0 Safari/537.36', 'Chromium on Linux'],
      ['Mozilla/5.0 (Android 14; Mobile; rv:140.0) Gecko/140.0 Firefox/140.0', 'Firefox on Android'],
      [
        'Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1',
        'Safari on iOS',
      ],
      ['Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605.1.15', 'Safari on macOS'],
      ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36 Edg/130.0', 'Edge on Windows'],
      ['curl/8.5.0', 'curl'],
      [undefined, 'Browser'],
      ['\u202e<script>alert(1)</script> Linux', 'Browser on Linux'],
    ];
    for (const [ua, name] of cases) expect(deviceName(ua), ua).toBe(name);
  });
});
