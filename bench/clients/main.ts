/**
 * The client process (`--system raw-ws|socket.io|gatehouse`): holds N connections to the
 * system under test, in a process of its own, and measures what a browser would see.
 * Every client acks every request; the first `deciders` clients also decide it. The
 * runner drives it over IPC: `connect`, `reset`, `collect`, `waitReceived`, `storm`,
 * `snapshotAt` (restart), `closeAll`; for several instances (bench/cluster.ts) `connect`
 * takes `ports` (client i on ports[i % n]) and `tagged` (client i decides the requests
 * whose `input.decider` is i), and `failoverMark` / `failoverReport` time the resume of
 * the clients of an instance that was killed.
 */
import { dist, isSystemName, now, num, serveIpc, waitFor, type SystemName } from '../common.ts';
import type { BenchClient, ClientEvents, ConnectClient, ConnectOptions } from './types.ts';

async function connector(system: SystemName): Promise<ConnectClient> {
  switch (system) {
    case 'raw-ws':
      return (await import('./raw.ts')).connectRaw;
    case 'socket.io':
      return (await import('./socketio.ts')).connectSocketIo;
    case 'gatehouse':
    case 'gatehouse-core':
      return (await import('./gatehouse.ts')).connectGatehouse;
    default: {
      const never: never = system;
      throw new Error(`unknown system ${String(never)}`);
    }
  }
}

const systemArg = process.argv[process.argv.indexOf('--system') + 1] ?? '';
if (!isSystemName(systemArg)) {
  console.error(`usage: clients/main.ts --system raw-ws|socket.io|gatehouse|gatehouse-core (got ${systemArg})`);
  process.exit(2);
}
const connect = await connector(systemArg);

type Slot = {
  client: BenchClient;
  ready: boolean;
  seen: Set<string>;
  snapshotSize: number;
  readyAt: number;
  /** Gatehouse: the port of its last welcome, the seq it holds, and since `failoverMark`
   *  its welcomes and when it first held each seq. */
  port: number;
  seq: number;
  welcomes: number[];
  seqAt: [number, number][];
};

let slots: Slot[] = [];
let options: ConnectOptions = { port: 0 };
let ports: number[] = [];
let deciders = 0;
/** Client i decides the requests tagged `decider: i` (instead of the first `deciders`). */
let tagged = false;
let failoverMarked = false;
// What the current measurement recorded.
let latencies: number[] = [];
let perRequest = new Map<string, { n: number; max: number }>();
let decidedAt = new Map<string, number>();
let duplicates = 0;
let problems: string[] = [];
let cpuSince = process.cpuUsage();
let cpuAt = now();

function open(index: number): Slot {
  const port = ports.length ? (ports[index % ports.length] ?? options.port) : options.port;
  const slot: Slot = {
    client: undefined as unknown as BenchClient,
    ready: false,
    seen: new Set(),
    snapshotSize: -1,
    readyAt: 0,
    port,
    seq: 0,
    welcomes: [],
    seqAt: [],
  };
  const events: ClientEvents = {
    onRequest(id, createdAt, decider) {
      const t = now();
      if (slot.seen.has(id)) duplicates++;
      slot.seen.add(id);
      if (createdAt !== undefined) {
        const lat = t - createdAt;
        latencies.push(lat);
        const r = perRequest.get(id);
        if (r) {
          r.n++;
          if (lat > r.max) r.max = lat;
        } else perRequest.set(id, { n: 1, max: lat });
      }
      if (tagged ? decider === index : index < deciders) {
        decidedAt.set(id, now());
        slot.client.decide(id);
      }
    },
    onReady(size) {
      slot.ready = true;
      slot.snapshotSize = size;
      slot.readyAt = now();
    },
    onProblem(what) {
      if (problems.length < 20) problems.push(`client ${index}: ${what}`);
    },
    onWelcome(at) {
      slot.port = at;
      if (failoverMarked) slot.welcomes.push(now());
    },
    onSeq(seq) {
      slot.seq = seq;
      if (failoverMarked) slot.seqAt.push([seq, now()]);
    },
  };
  slot.client = connect({ ...options, port }, events);
  return slot;
}

function closeAll() {
  for (const s of slots) s.client.close();
  slots = [];
}

serveIpc({
  /** Opens `n` clients at once; answers when every one has its welcome and snapshot. */
  async connect(args) {
    closeAll();
    ports = Array.isArray(args.ports) ? (args.ports as number[]) : [];
    options = {
      port: ports[0] ?? num(args, 'port'),
      ...(typeof args.token === 'string' ? { token: args.token } : {}),
      ...(args.failover === true && ports.length > 1 ? { failoverPorts: ports } : {}),
    };
    deciders = num(args, 'deciders', 1);
    tagged = args.tagged === true;
    failoverMarked = false;
    const n = num(args, 'n');
    const t0 = now();
    slots = Array.from({ length: n }, (_, i) => open(i));
    await waitFor(() => slots.every((s) => s.ready), num(args, 'timeoutMs', 30_000), `${n} clients ready`);
    return { ms: now() - t0, problems };
  },

  /** Starts a measurement; `deciders` (optional) changes how many clients decide. */
  reset(args) {
    if (typeof args.deciders === 'number') deciders = args.deciders;
    latencies = [];
    perRequest = new Map();
    decidedAt = new Map();
    duplicates = 0;
    problems = [];
    cpuSince = process.cpuUsage();
    cpuAt = now();
    for (const s of slots) s.seen.clear();
    return null;
  },

  /** What was measured since `reset`. `allClients`: per request, the time until the last
   *  of the connected clients had it (only requests that every client received). */
  collect() {
    const everyone = slots.length;
    const atAll: number[] = [];
    let incomplete = 0;
    for (const r of perRequest.values()) {
      if (r.n === everyone) atAll.push(r.max);
      else incomplete++;
    }
    const used = process.cpuUsage(cpuSince);
    return {
      /** This process's CPU since `reset`, in cores. */
      cpu: (used.user + used.system) / 1000 / (now() - cpuAt),
      receipt: dist(latencies),
      allClients: dist(atAll),
      incomplete,
      duplicates,
      problems,
      decided: [...decidedAt],
    };
  },

  /** Waits until client 0 (`all`: every client) holds `count` requests received since `reset`. */
  async waitReceived(args) {
    const count = num(args, 'count');
    const which = args.all === true ? slots : slots.slice(0, 1);
    await waitFor(
      () => which.length > 0 && which.every((s) => s.seen.size >= count),
      num(args, 'timeoutMs', 60_000),
      `${count} requests at ${args.all ? 'every client' : 'client 0'}`,
      5,
    );
    return { received: Math.min(...which.map((s) => s.seen.size)) };
  },

  /** Every client drops its connection and reconnects at once: time until all are served. */
  async storm(args) {
    const n = slots.length;
    const t0 = now();
    closeAll();
    slots = Array.from({ length: n }, (_, i) => open(i));
    await waitFor(() => slots.every((s) => s.ready), num(args, 'timeoutMs', 30_000), `${n} clients back`, 1);
    const last = Math.max(...slots.map((s) => s.readyAt));
    return { ms: last - t0, snapshotSizes: [...new Set(slots.map((s) => s.snapshotSize))], problems };
  },

  /** Starts timing a fail-over: from now on each client records its welcomes and when
   *  it first held each seq. Answers which port each client is on. */
  failoverMark() {
    failoverMarked = true;
    for (const s of slots) {
      s.welcomes = [];
      s.seqAt = [];
    }
    return { ports: slots.map((s) => s.port) };
  },

  /** Waits until every client holds `head`; then, for each client that was on
   *  `victimPort`, its first welcome after the mark and when it first held `head` (our
   *  clock), and where it ended up. */
  async failoverReport(args) {
    const victimPort = num(args, 'victimPort');
    const head = num(args, 'head');
    const onVictim = args.onVictim as number[];
    await waitFor(() => slots.every((s) => s.seq >= head), num(args, 'timeoutMs', 30_000), `every client at seq ${head}`, 2).catch((error: Error) => {
      problems.push(error.message);
    });
    const victims = onVictim.map((i) => {
      const s = slots[i];
      if (!s) return { welcomeAt: Number.NaN, caughtUpAt: Number.NaN, port: 0 };
      const welcomeAt = s.welcomes[0] ?? Number.NaN;
      const caughtUpAt = s.seqAt.find(([seq]) => seq >= head)?.[1] ?? Number.NaN;
      return { welcomeAt, caughtUpAt: Math.max(welcomeAt, caughtUpAt), port: s.port };
    });
    const stayed = victims.filter((v) => v.port === victimPort).length;
    if (stayed) problems.push(`${stayed} clients of the killed instance did not move`);
    failoverMarked = false;
    return { victims, problems, behind: slots.filter((s) => s.seq < head).length };
  },

  /** One client connects to a restarted server: when (our clock) its snapshot arrived. */
  async snapshotAt(args) {
    closeAll();
    ports = [];
    options = { port: num(args, 'port'), ...(typeof args.token === 'string' ? { token: args.token } : {}) };
    deciders = 0;
    const slot = open(0);
    slots = [slot];
    await waitFor(() => slot.ready, num(args, 'timeoutMs', 30_000), 'snapshot', 1);
    return { at: slot.readyAt, size: slot.snapshotSize, problems };
  },

  closeAll() {
    closeAll();
    return null;
  },

  exit() {
    closeAll();
    setImmediate(() => process.exit(0));
    return null;
  },
});

process.send?.({ type: 'ready' });
