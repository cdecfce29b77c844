/**
 * Chaos: a reconnect storm. 200 clients lose their connections at once and all come
 * back at the same moment with since + epoch (and 50 newcomers join with no since) while
 * an agent keeps creating and deciding requests. Every returning client is resumed and
 * ends with the whole stream, gapless, nothing twice; every newcomer's snapshot holds
 * exactly the requests unresolved at its head.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServerProcess, type ServerProcess } from '../testing/index.ts';
import { createRequest, watch, type Watched } from '../../scripts/lib/chaosKit.ts';

const STORM = 200;
const NEWCOMERS = 50;
let server: ServerProcess;
const watchers: Watched[] = [];
beforeAll(async () => {
  server = await startServerProcess();
});
afterAll(async () => {
  for (const w of watchers) w.client.close();
  await server?.stop();
});

function client(label: string) {
  const w = watch(() => server, label, { ackEveryMs: 200 });
  watchers.push(w);
  return w;
}

describe('reconnect storm', () => {
  it(`CHAOS-15: ${STORM} clients cut at once reconnect at once with since + epoch while requests are created and decided: all resumed, every stream whole; ${NEWCOMERS} newcomers get exact snapshots`, async () => {
    const crowd = Array.from({ length: STORM }, (_, i) => client(`storm-${i}`));
    await Promise.all(crowd.map((w) => w.client.connect()));
    const before = await Promise.all(Array.from({ length: 5 }, () => createRequest(server)));
    const lastBefore = before[before.length - 1];
    await Promise.all(crowd.map((w) => w.client.until(() => w.client.checker.lastSeq >= lastBefore!.seq, 10_000, 'the first requests')));

    const started = performance.now();
    for (const w of crowd) w.client.terminate();
    await Promise.all(crowd.map((w) => w.client.until(() => w.client.closedInfo !== undefined, 10_000, 'the cut')));
    // The agent keeps working during the storm.
    const agent = (async () => {
      const made = [];
      for (let i = 0; i < 10; i++) made.push(await createRequest(server, { input: { storm: i } }));
      for (const r of [before[0], made[0], made[5]]) {
        const res = await server.api(`/api/permission-requests/${r!.id}/decision`, { method: 'POST', json: { decision: 'allow' } });
        expect(res.status).toBe(200);
      }
      return made;
    })();
    const newcomers = Array.from({ length: NEWCOMERS }, (_, i) => client(`newcomer-${i}`));
    const welcomes = await Promise.all([...crowd.map((w) => w.client.connect({ resume: true })), ...newcomers.map((w) => w.client.connect())]);
    const made = await agent;
    const head = (await server.api('/readyz')).body.seq as number;
    const everyone = [...crowd, ...newcomers];
    await Promise.all(everyone.map((w) => w.client.until(() => w.client.checker.lastSeq >= head, 15_000, `the head ${head}`)));
    const seconds = (performance.now() - started) / 1000;
    console.log(`CHAOS-15: ${STORM} resumed and ${NEWCOMERS} new clients reached seq ${head} ${seconds.toFixed(2)} s after the cut`);

    expect(welcomes.slice(0, STORM).every((w) => w.resumed === true)).toBe(true);
    const all = [...before, ...made];
    for (const w of crowd) {
      expect(w.client.checker.violations).toEqual([]);
      expect(w.client.checker.requests.size).toBe(all.length);
      expect(w.client.checker.outcomes.size).toBe(3);
    }
    const stored = (await server.api('/api/permission-requests?status=pending')).body.requests as Array<{ id: string }>;
    expect(stored).toHaveLength(all.length - 3);
    for (const w of newcomers) {
      expect(w.client.checker.violations).toEqual([]);
      // Its snapshot plus the live stream after it: every request it knows is either
      // unresolved now or has its one outcome.
      const unresolved = [...w.client.checker.requests.keys()].filter((id) => !w.client.checker.outcomes.has(id));
      expect(new Set(unresolved)).toEqual(new Set(stored.map((r) => r.id)));
    }
    expect(seconds).toBeLessThan(15);
  }, 30_000);
});
