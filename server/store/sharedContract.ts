/**
 * The shared-state contract (contract-2 §6, SPEC.md TEAM-S1 to TEAM-S4): one suite that the
 * SQLite and the PostgreSQL implementations of devices, pairing codes, push subscriptions
 * and claims, VAPID keys and remembered rules both run, like contract.ts does for the log.
 * A factory makes a new, empty store per test; `other()` opens a second instance's view of
 * the same store (PostgreSQL: a pool of its own), or is absent where one instance is all
 * there is (SQLite), and then the cross-instance tests run on the one view, which must
 * hold the same promises.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { PushStore } from '../push/pushStore.ts';
import type { LoadedVapidKeys } from '../push/vapid.ts';
import type { NewRule, RuleBook } from '../rules/ruleStore.ts';
import { type DeviceStore, MAX_PAIRINGS, PAIRING_TTL_MS } from './deviceStore.ts';

export type SharedView = { devices: DeviceStore; push: PushStore; rules: RuleBook; vapid(): Promise<LoadedVapidKeys> };

export type SharedUnderTest = {
  /** This instance's view; `now` drives the device store's clock. */
  view: SharedView;
  /** Another instance's view of the same store (absent: SQLite, one instance). */
  other?(): Promise<SharedView>;
  destroy(): Promise<void>;
};

export type SharedFactory = (options: { now: () => number }) => Promise<SharedUnderTest>;

const rule = (pattern: string, extra: Partial<NewRule> = {}): NewRule => ({
  toolName: 'Bash',
  pattern,
  kind: 'bash-exact',
  decision: 'allow',
  scope: 'global',
  createdAt: 1_000,
  createdBy: 'test',
  ...extra,
});

export function runSharedStateContract(name: string, factory: SharedFactory): void {
  const open: SharedUnderTest[] = [];
  afterEach(async () => {
    for (const s of open.splice(0)) await s.destroy();
  });
  const clock = { now: 1_000_000 };
  const start = async () => {
    clock.now = 1_000_000;
    const s = await factory({ now: () => clock.now });
    open.push(s);
    const b = s.other ? await s.other() : s.view;
    return { a: s.view, b };
  };

  describe(`${name}: devices and pairing codes`, () => {
    it('TEAM-S1: a device made by one instance opens every instance; revoked on one, it opens none and `existing` drops it', async () => {
      const { a, b } = await start();
      const made = await a.devices.create('Chrome on Linux');
      expect((await b.devices.lookup(made.secret))?.id).toBe(made.device.id);
      expect(await b.devices.existing([made.device.id, 'dev-none'])).toEqual(new Set([made.device.id]));
      expect((await b.devices.list()).map((d) => d.id)).toEqual([made.device.id]);
      expect(await a.devices.revoke(made.device.id)).toBe(true);
      expect(await b.devices.lookup(made.secret)).toBeUndefined();
      expect(await b.devices.get(made.device.id)).toBeUndefined();
      expect(await b.devices.existing([made.device.id])).toEqual(new Set());
      expect(await b.devices.revoke(made.device.id)).toBe(false);
    });

    it('TEAM-S1: a pairing code made on one instance makes one device on another, once, even when redeemed on both at the same moment', async () => {
      const { a, b } = await start();
      const { code, expiresAt } = await a.devices.createPairing();
      expect(expiresAt).toBe(clock.now + PAIRING_TTL_MS);
      const both = await Promise.all([a.devices.redeemPairing(code, 'Safari on iOS'), b.devices.redeemPairing(code, 'Safari on iOS')]);
      const made = both.filter((m) => m !== undefined);
      expect(made).toHaveLength(1);
      expect((await a.devices.lookup(made[0]!.secret))?.name).toBe('Safari on iOS');
      expect(await b.devices.redeemPairing(code, 'again')).toBeUndefined();
      expect(await a.devices.list()).toHaveLength(1);
    });

    it('TEAM-S1: an expired code makes nothing and is spent; beyond MAX_PAIRINGS the oldest code ends', async () => {
      const { a, b } = await start();
      const old = await a.devices.createPairing();
      clock.now += PAIRING_TTL_MS;
      expect(await b.devices.redeemPairing(old.code, 'late')).toBeUndefined();
      const codes: string[] = [];
      for (let i = 0; i <= MAX_PAIRINGS; i++) {
        clock.now += 1;
        codes.push((await a.devices.createPairing()).code);
      }
      expect(await b.devices.redeemPairing(codes[0]!, 'first')).toBeUndefined();
      expect(await b.devices.redeemPairing(codes[MAX_PAIRINGS]!, 'last')).toBeDefined();
    });

    it('TEAM-S1: lastSeenAt moves in steps, whichever instance saw the device', async () => {
      const { a, b } = await start();
      const { device } = await a.devices.create('Firefox on Android');
      clock.now += 60_000;
      const seen = await b.devices.seen(device);
      expect(seen.lastSeenAt).toBe(clock.now);
      expect((await a.devices.get(device.id))?.lastSeenAt).toBe(clock.now);
    });
  });

  describe(`${name}: push subscriptions and claims`, () => {
    const sub = (n: number) => ({ endpoint: `https://push.example/${n}`, keys: { p256dh: `p${n}`, auth: `a${n}` } });

    it('TEAM-S2: a subscription made through one instance is pushed to by every instance; replaced by endpoint; removed by endpoint or device', async () => {
      const { a, b } = await start();
      await a.push.upsert(sub(1), 'dev-1', 10);
      await b.push.upsert(sub(2), null, 20);
      await b.push.upsert({ ...sub(1), keys: { p256dh: 'new', auth: 'new' } }, 'dev-1', 30);
      expect((await a.push.list()).map((s) => [s.endpoint, s.keys.p256dh, s.deviceId])).toEqual([
        ['https://push.example/1', 'new', 'dev-1'],
        ['https://push.example/2', 'p2', null],
      ]);
      expect(await a.push.count()).toBe(2);
      expect(await a.push.removeForDevice('dev-1')).toBe(1);
      expect(await b.push.get(sub(1).endpoint)).toBeUndefined();
      expect(await b.push.remove(sub(2).endpoint)).toBe(true);
      expect(await a.push.remove(sub(2).endpoint)).toBe(false);
      expect(await a.push.count()).toBe(0);
    });

    it('TEAM-S2: of many claims of one request at the same moment, on every instance, exactly one wins; so does exactly one release', async () => {
      const { a, b } = await start();
      const claims = await Promise.all([a, b, a, b, a, b].map((v, i) => v.push.markSent('req-1', i)));
      expect(claims.filter(Boolean)).toHaveLength(1);
      expect(await b.push.wasSent('req-1')).toBe(true);
      expect(await a.push.sentRequestIds()).toEqual(['req-1']);
      const releases = await Promise.all([a, b, a, b].map((v) => v.push.forgetSent('req-1')));
      expect(releases.filter(Boolean)).toHaveLength(1);
      expect(await b.push.sentRequestIds()).toEqual([]);
    });
  });

  describe(`${name}: VAPID keys`, () => {
    it('TEAM-S3: every instance signs with one key pair: instances loading at the same moment agree, and a later load finds it', async () => {
      const { a, b } = await start();
      const loaded = await Promise.all([a.vapid(), b.vapid(), a.vapid()]);
      const keys = loaded.map((l) => l.keys);
      expect(new Set(keys.map((k) => k.publicKey)).size).toBe(1);
      expect(new Set(keys.map((k) => k.privateKey)).size).toBe(1);
      expect(loaded.filter((l) => l.source === 'generated')).toHaveLength(1);
      expect((await b.vapid()).keys).toEqual(keys[0]);
    });
  });

  describe(`${name}: remembered rules`, () => {
    it('TEAM-S4: a rule is in force at once on the instance that made it, stored by settled(), and in force on another after refresh()', async () => {
      const { a, b } = await start();
      const made = a.rules.add(rule('git status'));
      expect(a.rules.list().map((r) => r.id)).toEqual([made.id]);
      expect(a.rules.add(rule('git status'))).toEqual(made);
      await a.rules.settled();
      await b.rules.refresh();
      expect(b.rules.list()).toEqual([made]);
      expect(b.rules.get(made.id)).toEqual(made);
    });

    it('TEAM-S4: a revocation on one instance ends the rule on every other after refresh(); revoking twice says so', async () => {
      const { a, b } = await start();
      const made = a.rules.add(rule('npm test', { scope: 'project', scopeValue: '/repo' }));
      await a.rules.settled();
      await b.rules.refresh();
      expect(await b.rules.revoke(made.id, 2_000)).toBe(true);
      await a.rules.refresh();
      expect(a.rules.list()).toEqual([]);
      expect(await a.rules.revoke(made.id, 3_000)).toBe(false);
      // Revoked, the same rule may be made again: a new one.
      const again = a.rules.add(rule('npm test', { scope: 'project', scopeValue: '/repo' }));
      expect(again.id).not.toBe(made.id);
      await a.rules.settled();
      await b.rules.refresh();
      expect(b.rules.list().map((r) => r.id)).toEqual([again.id]);
    });

    it('TEAM-S4: a rule remembered again on A after B revoked it (A not refreshed yet) is stored anew, not answered with the revoked one', async () => {
      const { a, b } = await start();
      const made = await a.rules.stored(a.rules.add(rule('make build')));
      await b.rules.refresh();
      expect(await b.rules.revoke(made.id, 2_000)).toBe(true);
      // A has not refreshed: its memory may still hold the revoked rule.
      const again = await a.rules.stored(a.rules.add(rule('make build')));
      expect(again.id).not.toBe(made.id);
      await b.rules.refresh();
      expect(b.rules.list().map((r) => r.id)).toEqual([again.id]);
      await a.rules.refresh();
      expect(a.rules.list().map((r) => r.id)).toEqual([again.id]);
    });

    it('TEAM-S4: the same rule remembered on two instances at the same moment is one stored rule', async () => {
      const { a, b } = await start();
      const onA = a.rules.add(rule('ls', { createdBy: 'a' }));
      const onB = b.rules.add(rule('ls', { createdBy: 'b' }));
      // What "Always allow" answers with (TEAM-G1): both name the one stored rule.
      const [storedA, storedB] = await Promise.all([a.rules.stored(onA), b.rules.stored(onB)]);
      expect(storedB.id).toBe(storedA.id);
      await Promise.all([a.rules.settled(), b.rules.settled()]);
      await Promise.all([a.rules.refresh(), b.rules.refresh()]);
      expect(a.rules.list()).toHaveLength(1);
      expect(b.rules.list()).toEqual(a.rules.list());
      expect(a.rules.list()[0]?.id).toBe(storedA.id);
    });
  });
}
