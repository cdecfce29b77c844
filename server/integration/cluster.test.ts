/**
 * Three `bin/gatehouse serve` processes on one fresh PostgreSQL database and one NATS
 * server behave as one Gatehouse (contract-2 section 6, issue 13; SPEC.md TEAM-C1,
 * TEAM-C2). Real processes, real sockets, the real protocol: WebSocket clients on every
 * instance (welcome/resume with `since` and `epoch`, acks, `permission-response` with a
 * `clientMsgId`), HTTP agents on every instance (create-and-wait with an
 * `Idempotency-Key`), random socket drops, and `kill -9` of one instance mid-run, then
 * its restart.
 *
 * Randomness is seeded and printed (`GATEHOUSE_CLUSTER_SEED=N` replays the choices; the
 * interleaving is the machine's). Every wait is an awaited event with a bound.
 *
 * The NATS subject is `gatehouse.log.<epoch>` and the epoch is new with each database,
 * so two runs (or two suites at once) never hear each other.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { canonicalJson } from '../../protocol/canonicalJson.ts';
import { TEST_NATS_URL, requireNats } from '../bus/testing/nats.ts';
import { createTestDatabase, requirePostgres } from '../store/testing/postgres.ts';
import { startCluster, type Cluster, type ClusterInstance } from '../testing/cluster.ts';
import { runClusterAgent, type AgentAsk } from '../testing/clusterAgent.ts';
import { ClusterClient } from '../testing/clusterClient.ts';
import { seededRandom } from '../testing/random.ts';
import { connectAndJoin, type Frame } from '../testing/wsClient.ts';

const reachable = (await requirePostgres('the cluster suite')) && (await requireNats('the cluster suite'));

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const seed = Number(process.env.GATEHOUSE_CLUSTER_SEED ?? Math.floor(Math.random() * 2 ** 31));

async function freshCluster(): Promise<Cluster> {
  const database = await createTestDatabase();
  cleanups.push(() => database.drop());
  const cluster = await startCluster({ size: 3, storeUrl: database.url, busUrl: TEST_NATS_URL });
  cleanups.push(() => cluster.stop());
  return cluster;
}

const three = (cluster: Cluster) => cluster.instances as [ClusterInstance, ClusterInstance, ClusterInstance];

const OUTCOMES = new Set(['permission-resolved', 'permission-timeout', 'permission-cancelled']);
/** An event's content, for comparing one seq across clients and instances (the order of
 *  its keys is not part of it: an instance relaying its own commit and one relaying a
 *  read from the log build the object in different orders). */
const wire = (frame: Frame) => canonicalJson(frame);

describe.skipIf(!reachable)('TEAM-C: three instances on PostgreSQL and NATS', () => {
  it('TEAM-C1: clients and agents on every instance, random drops, kill -9 of one instance and its restart: every event once, gapless, the same everywhere; one outcome per request; nothing acknowledged lost', async () => {
    console.log(`TEAM-C1 seed ${seed} (GATEHOUSE_CLUSTER_SEED=${seed} replays the choices)`);
    const rng = seededRandom(seed);
    const cluster = await freshCluster();
    const [a, b, c] = three(cluster);
    const fail = (message: string) => new Error(`${message}\nseed ${seed}\n${cluster.stderrTail()}`);

    // Two clients per instance; the first of each decides everything it sees (so every
    // request is decided), the others race it for some.
    const decideChances = [1, 0.4, 0.4, 0.3, 0.3, 0.3];
    const clients = decideChances.map(
      (decideChance, i) =>
        new ClusterClient({
          label: `watcher ${i}`,
          cluster,
          rng: seededRandom(seed + 1 + i),
          decideChance,
          dropChance: 0.04,
          dropAfterDecideChance: 0.15,
          // The held request (below) is the test's to decide.
          mayDecide: (request) => request.toolName !== 'Hold',
        }),
    );
    cleanups.push(() => Promise.all(clients.map((client) => client.stop())));
    const homes = [a, b, c, a, b, c];
    await Promise.all(clients.map((client, i) => client.connect(homes[i])));

    // Kill one instance a quarter of the way through, restart it at half way, while the
    // agents keep asking. So that the kill surely cuts a call that was stored but not
    // answered, an agent asks the victim for a request nobody decides (`Hold`) and the
    // kill comes once a client holds that request's event; the test decides it afterwards.
    const perAgent = 10;
    const agents = 3;
    const total = perAgent * agents;
    const victim = rng.pick(cluster.instances);
    const runAgent = (home: ClusterInstance, name: string, seedOffset: number, extra: { count: number; toolName?: string; onCreated?: () => void }) =>
      runClusterAgent({ name, home, cluster, rng: seededRandom(seed + seedOffset), waitS: 5, askTimeoutMs: 20_000, ...extra });
    let created = 0;
    let killed: Promise<AgentAsk[]> | undefined;
    let restarted: Promise<unknown> | undefined;
    const killMidCall = async () => {
      const held = runAgent(victim, 'agent-held', 300, { count: 1, toolName: 'Hold' });
      await clients[0]!.waitForEvent((e) => e.type === 'permission-request' && e.toolName === 'Hold', 10_000);
      await victim.kill9();
      const request = clients[0]!.events.find((e) => e.type === 'permission-request' && e.toolName === 'Hold')!;
      const decided = await cluster
        .live()[0]!
        .server.api(`/api/permission-requests/${request.id}/decision`, { method: 'POST', json: { decision: 'deny', message: 'held' } });
      expect(decided.status).toBe(200);
      return held;
    };
    const onCreated = () => {
      created++;
      if (created === Math.floor(total / 4)) killed = killMidCall();
      if (created === Math.floor(total / 2))
        // A client moves onto the restarted instance, so it serves sockets again.
        restarted = killed!.then(() => victim.restart()).then(() => clients[0]!.moveTo(victim));
    };
    const askLists = await Promise.all([a, b, c].map((home, i) => runAgent(home, `agent-${home.name}`, 100 + i, { count: perAgent, onCreated }))).catch(
      (error: Error) => {
        throw fail(error.message);
      },
    );
    await restarted;
    const [heldAsk] = await killed!;
    // Its create-and-wait broke off with the kill; the same key on another instance found it.
    expect(heldAsk!.retries.length, 'the held ask was cut by the kill').toBeGreaterThan(0);
    expect(heldAsk!.createdOn).not.toBe(victim.name);
    const asks: AgentAsk[] = [...askLists.flat(), heldAsk!];
    expect(asks).toHaveLength(total + 1);
    expect(victim.alive).toBe(true);

    // Every instance reports one epoch and one head; every client gets there.
    const ready = await Promise.all(cluster.instances.map((i) => i.server.api('/readyz')));
    const epoch = ready[0]!.body.epoch as string;
    const head = Math.max(...ready.map((r) => r.body.seq as number));
    for (const [i, r] of ready.entries())
      expect(r.body, `readyz of ${cluster.instances[i]!.name}`).toMatchObject({ status: 'ready', store: 'postgres', epoch });
    await Promise.all(clients.map((client) => client.waitForSeq(head, 10_000))).catch((error: Error) => {
      throw fail(error.message);
    });
    await Promise.all(clients.map((client) => client.waitForAnswers(10_000))).catch((error: Error) => {
      throw fail(error.message);
    });

    // And each instance serves the whole log the same: an observer per instance from seq 0.
    const observers = cluster.instances.map(
      (_, i) =>
        new ClusterClient({ label: `observer ${i}`, cluster, rng: seededRandom(seed + 200 + i), decideChance: 0, dropChance: 0, dropAfterDecideChance: 0 }),
    );
    cleanups.push(() => Promise.all(observers.map((o) => o.stop())));
    for (const [i, observer] of observers.entries()) {
      observer.epoch = epoch;
      observer.lastSeq = 0;
      await observer.connect(cluster.instances[i]);
      expect(observer.instance).toBe(cluster.instances[i]!.name);
    }
    await Promise.all(observers.map((o) => o.waitForSeq(head, 10_000)));
    for (const i of cluster.instances) expect((await i.server.api('/readyz')).body.seq, `head of ${i.name}`).toBe(head);

    const everyone = [...clients, ...observers];
    const violations = everyone.flatMap((client) => client.violations);
    expect(violations, violations.join('\n')).toEqual([]);

    // Every client: every event once, gapless, from where it joined to the head; one
    // event per seq, the same on every client of every instance.
    const bySeq = new Map<number, string>();
    for (const client of everyone) {
      const seqs = client.events.map((e) => e.seq as number);
      const from = (client.base ?? 0) + 1;
      expect(seqs, `${client.label}'s seqs`).toEqual(Array.from({ length: head - from + 1 }, (_, k) => from + k));
      for (const event of client.events) {
        const seen = bySeq.get(event.seq);
        if (seen === undefined) bySeq.set(event.seq, wire(event));
        else expect(wire(event), `seq ${event.seq} on ${client.label}`).toBe(seen);
      }
    }
    expect(observers.every((o) => o.base === undefined && o.events.length === head)).toBe(true);
    const log = observers[0]!.events;

    // One outcome per request, and no acknowledged create lost.
    const outcomes = new Map<string, Frame[]>();
    const requests = new Map<string, Frame>();
    for (const event of log) {
      if (event.type === 'permission-request') requests.set(event.id, event);
      if (OUTCOMES.has(event.type)) outcomes.set(event.requestId, [...(outcomes.get(event.requestId) ?? []), event]);
    }
    expect(requests.size).toBe(total + 1);
    for (const ask of asks) {
      expect(requests.get(ask.id!), `request ${ask.id} of ${ask.agent}`).toMatchObject({ toolName: ask.body.toolName, input: ask.body.input });
      const its = outcomes.get(ask.id!) ?? [];
      expect(its, `outcomes of ${ask.id}`).toHaveLength(1);
      const outcome = its[0]!;
      // HTTP requests outlive their instance (never cancelled as orphans); all were decided.
      expect(outcome.type, `outcome of ${ask.id}`).toBe('permission-resolved');
      expect(ask.outcome, `what ${ask.agent} read for ${ask.id}`).toMatchObject({
        id: ask.id,
        status: 'resolved',
        decision: outcome.decision,
        decidedBy: outcome.decidedBy,
      });
    }
    expect(outcomes.size).toBe(total + 1);

    // No acknowledged decision lost: the one accepted attempt per request is the outcome;
    // every other attempt was told `already-resolved` with the winning decision and name.
    for (const [requestId, [outcome]] of outcomes) {
      const tried = everyone.flatMap((client) => {
        const attempt = client.attempts.get(requestId);
        return attempt ? [{ client, attempt }] : [];
      });
      const accepted = tried.filter((t) => t.attempt.answer?.status === 'accepted');
      if (requests.get(requestId)!.toolName === 'Hold') {
        expect(outcome).toMatchObject({ decision: 'deny', message: 'held' });
        expect(tried).toEqual([]);
        continue;
      }
      const told = tried.map((t) => `${t.client.label}: ${t.attempt.decision} (sent ${t.attempt.sends}×) → ${JSON.stringify(t.attempt.answer)}`).join('\n');
      expect(
        accepted.map((t) => t.client.label),
        `accepted decisions for ${requestId}, won by ${outcome!.decidedBy}:\n${told}`,
      ).toEqual([outcome!.decidedBy]);
      expect(accepted[0]!.attempt.decision).toBe(outcome!.decision);
      for (const loser of tried.filter((t) => t.attempt.answer?.status !== 'accepted'))
        expect(loser.attempt.answer, `${loser.client.label}'s decision on ${requestId}`).toEqual({
          status: 'rejected',
          code: 'already-resolved',
          decision: outcome!.decision,
          message: expect.stringContaining(`"${outcome!.decidedBy}"`),
        });
    }

    // Every instance reads every request the same.
    for (const ask of rng.pick([asks.slice(0, 5), asks.slice(-5)])) {
      const views = await Promise.all(cluster.instances.map((i) => i.server.api(`/api/permission-requests/${ask.id}`)));
      for (const view of views)
        expect(view.body).toMatchObject({ id: ask.id, status: 'resolved', decision: ask.outcome!.decision, decidedBy: ask.outcome!.decidedBy });
    }
    // Clients resumed with since and epoch, also on another instance than before, and the
    // ones on the killed instance moved.
    const moves = clients.flatMap((client) => client.connections.slice(1).map((conn, k) => ({ conn, before: client.connections[k]!.instance })));
    expect(moves.filter((m) => m.conn.resumed && m.conn.instance !== m.before).length).toBeGreaterThan(0);
    expect(moves.every((m) => m.conn.resumed && m.conn.since !== undefined && m.conn.epoch === epoch)).toBe(true);
    expect(moves.some((m) => m.before === victim.name)).toBe(true);
    const drops = clients.reduce((n, client) => n + client.drops, 0);
    console.log(
      `TEAM-C1 seed ${seed}: ${asks.length} requests, ${head} events, ${drops} drops, ${moves.length} resumes, killed and restarted ${victim.name}, ` +
        `${asks.filter((ask) => ask.retries.length > 0).length} asks retried elsewhere`,
    );
  }, 60_000);

  // One cluster for the two tests below (each makes its own requests and sockets).
  let shared: Promise<Cluster> | undefined;
  const sharedCluster = () => (shared ??= freshCluster());

  it('TEAM-C2: two decisions for one request sent at the same moment to two instances: exactly one wins, the other is told already-resolved naming the winner', async () => {
    const cluster = await sharedCluster();
    const [a, b, c] = three(cluster);
    const join = async (instance: ClusterInstance, label: string) => {
      const joined = await connectAndJoin(instance.server.wsUrl({ label }));
      cleanups.push(() => joined.client.terminate());
      return joined.client;
    };
    const alice = await join(a, 'alice');
    const bob = await join(b, 'bob');
    const wins = { alice: 0, bob: 0, http: 0 };
    const rounds = 12;
    for (let round = 0; round < rounds; round++) {
      // Created on the third instance: both deciders learn of it through the bus.
      const created = await c.server.api('/api/permission-requests', {
        method: 'POST',
        token: cluster.agentToken,
        json: { toolName: 'Bash', input: { command: `race ${round}` } },
      });
      expect(created.status).toBe(201);
      const id = created.body.id as string;
      const seen = (f: Frame) => f.type === 'permission-request' && f.id === id;
      await Promise.all([alice.waitFor(seen), bob.waitFor(seen)]);
      const [aliceSays, bobSays] = round % 2 === 0 ? (['allow', 'deny'] as const) : (['deny', 'allow'] as const);
      // The same tick: neither instance can know of the other's decision before its own commit.
      alice.send({
        type: 'permission-response',
        requestId: id,
        decision: aliceSays,
        clientMsgId: `00000000-0000-4000-8000-a${String(round).padStart(11, '0')}`,
      });
      bob.send({ type: 'permission-response', requestId: id, decision: bobSays, clientMsgId: `00000000-0000-4000-8000-b${String(round).padStart(11, '0')}` });
      const answer = (client: typeof alice) => client.waitFor((f) => (f.type === 'ack' || f.type === 'error') && f.requestId === id, { timeoutMs: 10_000 });
      const [toAlice, toBob] = await Promise.all([answer(alice), answer(bob)]);
      const accepted = [toAlice, toBob].filter((f) => f.type === 'ack' && f.status === 'accepted');
      expect(accepted, `round ${round}: ${JSON.stringify([toAlice, toBob])}`).toHaveLength(1);
      const aliceWon = toAlice.type === 'ack';
      const [winner, decision, loserAnswer] = aliceWon ? (['alice', aliceSays, toBob] as const) : (['bob', bobSays, toAlice] as const);
      wins[winner]++;
      expect(loserAnswer).toMatchObject({ type: 'error', code: 'already-resolved', requestId: id, decision, message: expect.stringContaining(`"${winner}"`) });
      // Both sockets get the one outcome, naming the winner.
      const outcome = (f: Frame) => f.type === 'permission-resolved' && f.requestId === id;
      const [onA, onB] = await Promise.all([alice.waitFor(outcome), bob.waitFor(outcome)]);
      expect(onA).toMatchObject({ decision, decidedBy: winner });
      expect(onB).toEqual(onA);
    }

    // Over HTTP too: the same decision call at once on two instances.
    for (let round = 0; round < 4; round++) {
      const created = await c.server.api('/api/permission-requests', {
        method: 'POST',
        token: cluster.agentToken,
        json: { toolName: 'Bash', input: { command: `http race ${round}` } },
      });
      const id = created.body.id as string;
      await Promise.all([
        alice.waitFor((f) => f.type === 'permission-request' && f.id === id),
        bob.waitFor((f) => f.type === 'permission-request' && f.id === id),
      ]);
      const [onA, onB] = await Promise.all([
        a.server.api(`/api/permission-requests/${id}/decision`, { method: 'POST', json: { decision: 'allow', message: 'from A' } }),
        b.server.api(`/api/permission-requests/${id}/decision`, { method: 'POST', json: { decision: 'deny', message: 'from B' } }),
      ]);
      expect([onA.status, onB.status].sort(), JSON.stringify([onA.body, onB.body])).toEqual([200, 409]);
      const [won, lost] = onA.status === 200 ? [onA, onB] : [onB, onA];
      expect(lost.body).toMatchObject({ error: { code: 'already-resolved', decision: won.body.decision, message: expect.stringContaining('the HTTP API') } });
      wins.http++;
    }
    // Each socket saw every request once and one outcome for each, in one gapless order.
    for (const client of [alice, bob]) {
      const seqs = client.events().map((e) => e.seq as number);
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, k) => seqs[0]! + k));
      const resolved = client.events().filter((e) => e.type === 'permission-resolved');
      expect(new Set(resolved.map((e) => e.requestId)).size).toBe(resolved.length);
      expect(resolved).toHaveLength(rounds + 4);
    }
    console.log(`TEAM-C2: ${rounds} socket races (alice won ${wins.alice}, bob ${wins.bob}), ${wins.http} HTTP races, one winner each`);
  }, 30_000);

  it('TEAM-C3: across instances an Idempotency-Key keeps its request, a clientMsgId its answer, and a long-poll learns an outcome decided elsewhere', async () => {
    const cluster = await sharedCluster();
    const [a, b, c] = three(cluster);
    const body = { toolName: 'Bash', input: { command: 'make release' } };
    const create = (instance: ClusterInstance, json: unknown) =>
      instance.server.api('/api/permission-requests', { method: 'POST', token: cluster.agentToken, headers: { 'Idempotency-Key': 'release-key-1' }, json });
    const first = await create(a, body);
    expect(first.status).toBe(201);
    const again = await create(b, body);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ id: first.body.id, status: 'pending' });
    const conflict = await create(c, { ...body, input: { command: 'make other' } });
    expect(conflict.status).toBe(409);
    expect(conflict.body).toMatchObject({ error: { code: 'idempotency-conflict' } });

    const id = first.body.id as string;
    const poll = c.server.api(`/api/permission-requests/${id}?wait=10`, { token: cluster.agentToken });
    const onA = await connectAndJoin(a.server.wsUrl({ label: 'carol' }));
    cleanups.push(() => onA.client.terminate());
    const clientMsgId = '00000000-0000-4000-8000-c00000000001';
    const response = { type: 'permission-response', requestId: id, decision: 'allow', clientMsgId };
    onA.client.send(response);
    const ack = await onA.client.waitFor((f) => f.type === 'ack' && f.ref === clientMsgId);
    expect(ack).toMatchObject({ status: 'accepted', requestId: id });
    expect((await poll).body).toMatchObject({ id, status: 'resolved', decision: 'allow', decidedBy: 'carol' });
    // The same clientMsgId again, from a socket on another instance: the same answer, no second decision.
    const onB = await connectAndJoin(b.server.wsUrl({ label: 'carol' }));
    cleanups.push(() => onB.client.terminate());
    onB.client.send(response);
    expect(await onB.client.waitFor((f) => f.type === 'ack' && f.ref === clientMsgId)).toEqual(ack);
    for (const instance of [a, b, c])
      expect((await instance.server.api(`/api/permission-requests/${id}`)).body).toMatchObject({ status: 'resolved', decision: 'allow', decidedBy: 'carol' });
  }, 30_000);
});
