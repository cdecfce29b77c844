/**
 * `npm run test:memory-websocket` (node --expose-gc --import tsx): does the server keep
 * memory per request lifecycle or per connection after they are over?
 *
 * The server is built IN-PROCESS with the same composition as `gatehouse serve`
 * (`startServer` from server/server.ts plus the agents plugin that serve.ts loads), on a
 * temporary data directory, so the heap measured is the server's (plus this small
 * harness, which keeps nothing per lifecycle). A lifecycle is: an HTTP agent creates a
 * request -> the deciding WebSocket client receives it -> acks it -> decides ->
 * receives the ack and the outcome -> the agent reads the outcome. Between batches,
 * connect/disconnect churn: the decider leaves and resumes with since, fresh clients
 * (snapshot) and resuming clients come and go, some closed cleanly, some cut.
 *
 * Measured after a forced GC (heapUsed without V8's code space, whose JIT code grows while
 * functions are optimized; the total is printed too):
 *   warm-up: `--warmup` lifecycles (default: the broker's recentLimit, 10,000). The broker
 *   keeps the most recent 10,000 finished requests in memory on purpose (late and
 *   duplicate answers); until that window is full the heap grows by design, so the
 *   baseline is taken once it is full. The cold heap (before any lifecycle) is printed too.
 *   run: `--lifecycles` (default 20,000) in two halves.
 *   Both are rounded up to whole periods of 1,025 lifecycles: the broker's request index
 *   (machines/seqIndex.ts) keeps each finished request reachable until 1,025 have
 *   finished, then drops them at once, so the heap is a bounded sawtooth of that period
 *   (~3.5 MiB high); measuring at the same phase keeps it from passing for growth or
 *   hiding a leak. (Full run: 10,250 warm-up + 20,500 measured.)
 * Passes when: end heap - baseline < 5 MiB, and (end - middle) / (lifecycles / 2) < 200
 * bytes per lifecycle. Exit 1 otherwise.
 *
 *   --leak     keep a reference per lifecycle (its frames) in this process: must FAIL
 *   --trace N  also print the heap every N lifecycles (shows the sawtooth)
 *   QUICK=1    a small run: 2,050 warm-up, 2 x 1,025, with a broker window of 500
 *              (the bounds are the same)
 */
import http from 'node:http';
import v8 from 'node:v8';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { testConfig } from '../server/config.ts';
import { createLogger } from '../server/log.ts';
import createAgentsPlugin from '../server/agents/plugin.ts';
import { startServer, type RunningServer } from '../server/server.ts';

const MiB = 1 << 20;
const HEAP_BOUND = 5 * MiB;
const PER_LIFECYCLE_BOUND = 200;
const DEFAULT_RECENT_LIMIT = 10_000; // machines/broker.types.ts: BrokerInput.recentLimit

const quick = process.env.QUICK === '1';
const usage = 'Usage: npm run test:memory-websocket -- [--lifecycles N] [--warmup N] [--in-flight N] [--leak] [--trace N]';
function parse() {
  return parseArgs({
    options: {
      lifecycles: { type: 'string', default: quick ? '2000' : '20000' },
      warmup: { type: 'string' },
      'in-flight': { type: 'string', default: '16' },
      leak: { type: 'boolean', default: false },
      trace: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  }).values;
}
let values: ReturnType<typeof parse>;
try {
  values = parse();
} catch (error) {
  console.error(`${(error as Error).message}\n${usage}`);
  process.exit(2);
}
if (values.help) {
  console.log(usage);
  process.exit(0);
}
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error('run with node --expose-gc (npm run test:memory-websocket does)');
  process.exit(2);
}
const recentLimit = quick ? 500 : DEFAULT_RECENT_LIMIT;
const askedLifecycles = Number(values.lifecycles);
// Quick runs warm up for two periods: after one, JIT feedback and caches still grow a little.
const askedWarmup = Number(values.warmup ?? (quick ? 2_050 : recentLimit));
const inFlight = Number(values['in-flight']);
const trace = values.trace === undefined ? undefined : Number(values.trace);
if (trace !== undefined && !(Number.isInteger(trace) && trace > 0)) {
  console.error(`--trace: expected a positive integer\n${usage}`);
  process.exit(2);
}
for (const [name, v] of [
  ['lifecycles', askedLifecycles],
  ['warmup', askedWarmup],
  ['in-flight', inFlight],
] as const) {
  if (!Number.isInteger(v) || v < 1) {
    console.error(`--${name}: expected a positive integer\n${usage}`);
    process.exit(2);
  }
}
// The broker's request index (machines/seqIndex.ts) drops finished entries in batches:
// each stays reachable until COMPACTION_PERIOD have finished, so the heap is a sawtooth
// of that period (about 3.4 KB per finished request, up to ~3.5 MiB). Measuring at the
// same phase of it (whole periods apart) keeps that bounded swing from passing for growth
// or hiding a leak. The counts asked for are rounded up to whole periods.
const COMPACTION_PERIOD = 1_025;
const periods = (n: number) => Math.max(1, Math.ceil(n / COMPACTION_PERIOD)) * COMPACTION_PERIOD;
const warmup = periods(askedWarmup);
const lifecycles = 2 * periods(askedLifecycles / 2);

// ---- the server, composed as `gatehouse serve` composes it ------------------------------
const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-memory-'));
const config = testConfig({ dataDir, agent: 'demo', host: '127.0.0.1', port: 0 });
const server: RunningServer = await startServer(config, { logger: createLogger({}), plugins: [createAgentsPlugin], recentLimit });

const wsUrl = (params: Record<string, string | number | undefined> = {}) => {
  const url = new URL(`ws://127.0.0.1:${server.port}/ws`);
  if (server.token) url.searchParams.set('token', server.token);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, String(v));
  return url.toString();
};

// ---- a lean client: keeps nothing per lifecycle, checks seq gapless ----------------------
type Frame = Record<string, any> & { type: string };
class LeanClient {
  ws!: WebSocket;
  epoch = '';
  lastSeq = 0;
  broken: string | undefined;
  onFrame: (frame: Frame) => void = () => {};
  private next: number | undefined;

  open(params: Record<string, string | number | undefined> = {}): Promise<Frame> {
    this.ws = new WebSocket(wsUrl(params), { perMessageDeflate: false });
    return new Promise((resolve, reject) => {
      this.ws.once('error', reject);
      this.ws.on('message', (data) => {
        const frame = JSON.parse(data.toString()) as Frame;
        if (frame.type === 'welcome') {
          this.epoch = frame.epoch;
          if (frame.resumed) this.next = this.lastSeq + 1;
          else this.next = undefined;
          resolve(frame);
          return;
        }
        if (frame.type === 'snapshot') {
          this.next = frame.seq + 1;
          this.lastSeq = frame.seq;
          return;
        }
        if (typeof frame.seq === 'number') {
          if (this.next !== undefined && frame.seq !== this.next) this.broken ??= `expected seq ${this.next}, got ${frame.seq}`;
          this.next = frame.seq + 1;
          this.lastSeq = frame.seq;
        }
        this.onFrame(frame);
      });
    });
  }

  resumeParams() {
    return { since: this.lastSeq, epoch: this.epoch };
  }

  send(message: unknown) {
    this.ws.send(JSON.stringify(message));
  }

  close(cut = false): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    const closed = new Promise<void>((resolve) => this.ws.once('close', () => resolve()));
    if (cut) this.ws.terminate();
    else this.ws.close(1000);
    return closed;
  }
}

// ---- HTTP agent ------------------------------------------------------------------------
const agent = new http.Agent({ keepAlive: true, maxSockets: inFlight * 2 });
function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      {
        host: '127.0.0.1',
        port: server.port,
        path,
        method,
        agent,
        headers: {
          ...(server.token ? { authorization: `Bearer ${server.token}` } : {}),
          ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

// ---- lifecycles ------------------------------------------------------------------------
type Pending = { onRequest?: (frame: Frame) => void; onAck?: () => void; onOutcome?: () => void };
const byN = new Map<number, Pending>();
const byId = new Map<string, Pending>();
const byRef = new Map<string, Pending>();
const leaked: unknown[] = [];
let decider = new LeanClient();

function route(frame: Frame) {
  switch (frame.type) {
    case 'permission-request': {
      const n = frame.input?.n;
      if (typeof n === 'number') byN.get(n)?.onRequest?.(frame);
      return;
    }
    case 'ack':
      if (frame.ref) byRef.get(frame.ref)?.onAck?.();
      return;
    case 'permission-resolved':
      byId.get(frame.requestId)?.onOutcome?.();
      return;
    case 'error':
      throw new Error(`the server refused a frame: ${JSON.stringify(frame)}`);
    default:
      return;
  }
}

let counter = 0;
async function lifecycle(): Promise<void> {
  const n = counter++;
  const pending: Pending = {};
  byN.set(n, pending);
  const received = new Promise<Frame>((resolve) => (pending.onRequest = resolve));
  const created = await api('POST', '/api/permission-requests', { toolName: 'Bash', input: { command: `echo ${n}`, n }, context: { agent: 'memory-check' } });
  if (created.status !== 201) throw new Error(`create answered ${created.status}: ${JSON.stringify(created.body)}`);
  const id: string = created.body.id;
  const frame = await received;
  byN.delete(n);
  decider.send({ type: 'ack', seq: frame.seq });
  const ref = `m-${n}`;
  byId.set(id, pending);
  byRef.set(ref, pending);
  const acked = new Promise<void>((resolve) => (pending.onAck = resolve));
  const outcome = new Promise<void>((resolve) => (pending.onOutcome = resolve));
  decider.send({ type: 'permission-response', requestId: id, decision: n % 2 ? 'deny' : 'allow', clientMsgId: ref });
  await Promise.all([acked, outcome]);
  byId.delete(id);
  byRef.delete(ref);
  const read = await api('GET', `/api/permission-requests/${id}`);
  if (read.body?.status !== 'resolved') throw new Error(`${id} reads ${JSON.stringify(read.body)}`);
  if (values.leak) leaked.push({ frame, read: read.body, created: created.body });
}

async function batch(count: number) {
  let left = count;
  const worker = async () => {
    while (left > 0) {
      left -= 1;
      await lifecycle();
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, worker));
}

/** Clients come and go: the decider resumes; fresh and resuming clients connect and leave. */
let churned = 0;
async function churn() {
  const held = decider;
  await held.close(churned % 2 === 1);
  if (held.broken) throw new Error(`the decider saw a broken stream: ${held.broken}`);
  const passers = await Promise.all(
    Array.from({ length: 10 }, async (_, i) => {
      const c = new LeanClient();
      await c.open(i % 2 ? held.resumeParams() : {});
      return c;
    }),
  );
  await Promise.all(passers.map((c, i) => c.close(i % 3 === 0)));
  churned += 1;
  const next = new LeanClient();
  next.lastSeq = held.lastSeq;
  next.onFrame = route;
  const welcome = await next.open(held.resumeParams());
  if (!welcome.resumed) throw new Error('the decider could not resume');
  decider = next;
}

async function run(total: number) {
  const chunk = trace ?? 1_000;
  for (let done = 0; done < total; done += chunk) {
    await batch(Math.min(chunk, total - done));
    await churn();
    if (trace) console.log(`  trace               after ${counter} lifecycles: heap ${((await settledHeap()).data / MiB).toFixed(2)} MiB`);
  }
}

/** The heap after a forced GC, once the server is quiet (its coalescing timers, such as
 *  the 50 ms queue status, have fired; closed sockets are gone): the least of five
 *  samples, so short-lived garbage (a socket being torn down) does not count as growth.
 *  `data` leaves out V8's code space: JIT-compiled code grows while functions get
 *  optimized (about 0.1 MiB per 500 lifecycles early on) and is not state kept per
 *  lifecycle; `total` (heapUsed) is printed too. */
async function settledHeap(): Promise<{ data: number; total: number }> {
  await server.host.settle();
  let best = { data: Infinity, total: Infinity };
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setTimeout(r, 40));
    gc!();
    const total = process.memoryUsage().heapUsed;
    const code = v8.getHeapSpaceStatistics().reduce((sum, space) => (space.space_name.startsWith('code') ? sum + space.space_used_size : sum), 0);
    if (total - code < best.data) best = { data: total - code, total };
  }
  return best;
}

const mib = (bytes: number) => `${(bytes / MiB).toFixed(2)} MiB`;
let code = 1;
try {
  decider.onFrame = route;
  await decider.open();
  const cold = await settledHeap();
  const t0 = performance.now();
  await run(warmup);
  const baseline = await settledHeap();
  await run(lifecycles / 2);
  const middle = await settledHeap();
  await run(lifecycles / 2);
  const end = await settledHeap();
  const seconds = (performance.now() - t0) / 1000;

  const growth = end.data - baseline.data;
  const perLifecycle = (end.data - middle.data) / (lifecycles / 2);
  const firstHalfPer = (middle.data - baseline.data) / (lifecycles / 2);
  const ok = growth < HEAP_BOUND && perLifecycle < PER_LIFECYCLE_BOUND && !decider.broken;
  const both = (h: { data: number; total: number }) => `${mib(h.data)} (with JIT code: ${mib(h.total)})`;
  console.log(`\nWebSocket memory${values.leak ? ' (fault injected: --leak, one reference kept per lifecycle)' : ''}`);
  console.log(
    `  lifecycles          ${warmup} warm-up + ${lifecycles} measured, ${inFlight} in flight, ${churned} churn rounds (each: the decider resumes, 10 clients join and leave)`,
  );
  console.log(`  throughput          ${((warmup + lifecycles) / seconds).toFixed(0)} lifecycles/s (in-process, ${seconds.toFixed(1)} s)`);
  console.log(
    `  phase               measured whole compaction periods apart (${COMPACTION_PERIOD} lifecycles): the broker's request index keeps finished entries until ${COMPACTION_PERIOD} pile up (a bounded sawtooth, see docs/testing.md)`,
  );
  console.log(`  heap cold           ${both(cold)} before any lifecycle`);
  console.log(`  heap baseline       ${both(baseline)} after the warm-up: the broker's window of ${recentLimit} recent finished requests is full`);
  console.log(
    `                      (filling it and warming up cost ${mib(baseline.data - cold.data)}, ${((baseline.data - cold.data) / warmup).toFixed(0)} B per warm-up lifecycle: by design, not a leak)`,
  );
  console.log(`  heap middle         ${both(middle)}  (first half: ${firstHalfPer.toFixed(1)} B per lifecycle)`);
  console.log(`  heap end            ${both(end)}`);
  console.log(`  end - baseline      ${mib(growth)} (bound ${mib(HEAP_BOUND)})  ${growth < HEAP_BOUND ? 'ok' : 'EXCEEDED'}`);
  console.log(
    `  second half         ${perLifecycle.toFixed(1)} B per lifecycle (bound ${PER_LIFECYCLE_BOUND})  ${perLifecycle < PER_LIFECYCLE_BOUND ? 'ok' : 'EXCEEDED'}`,
  );
  if (decider.broken) console.log(`  stream              BROKEN: ${decider.broken}`);
  console.log(`  rss                 ${mib(process.memoryUsage().rss)}`);
  console.log(`  result              ${ok ? 'PASS' : 'FAIL'}`);
  code = ok ? 0 : 1;
} catch (error) {
  console.error(`FAIL: ${(error as Error)?.stack ?? String(error)}`);
} finally {
  await decider.close(true).catch(() => {});
  agent.destroy();
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
process.exit(code);
