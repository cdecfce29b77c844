/**
 * The floor of the HTTP agents' figure on this machine: what node:http itself costs for a
 * create-and-wait shaped call, with nothing of Gatehouse in it. A measure, not a test:
 * `npx tsx bench/httpFloor.ts [calls] [in flight] [node|ask] [answer delay ms]` (BENCHMARKS.md, "HTTP
 * agents: the floor and the whole machine").
 *
 * A server process (plain `http.createServer`) parses each POST's JSON body and answers it
 * on the next turn of its loop (as a create-and-wait is answered after a commit) with a
 * request view of the same size; this process runs the agents: `in flight` callers on
 * keep-alive connections (`http.Agent`), each posting the bench's create body again as
 * soon as its answer is in: with `node:http`'s `request` itself (`node`, the default), or
 * with the hook's client (`ask`: `askGatehouse` over `httpJson`, as the bench's HTTP agents
 * ask). Printed: calls/s, and the CPU per call of the server process and of the agents'
 * process, the same two figures `npm run bench` prints for Gatehouse's HTTP agents.
 */
import { fork } from 'node:child_process';
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { askGatehouse } from '../server/agents/client/ask.ts';
import { benchRequest } from './common.ts';
import { unpinned } from './unpinned.ts';

const calls = Number(process.argv[2] ?? 20_000);
const inflight = Number(process.argv[3] ?? 200);
const client = process.argv[4] === 'ask' ? 'ask' : 'node';
/** Each answer this many ms after its body (default: on the next turn of the loop), so that
 *  the floor can be read at the rate Gatehouse answers: 200 in flight answered after 80 ms
 *  is about 2,400 calls/s. The server process gets it as its second argument. */
const delayMs = Number((process.argv[2] === '--serve' ? process.argv[3] : process.argv[5]) ?? 0);

if (process.argv[2] === '--serve') {
  let answered = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ReturnType<typeof benchRequest>;
      answered += 1;
      const answer = () => {
        const view = JSON.stringify({ id: `r${answered}`, status: 'resolved', decision: 'allow', decidedBy: 'bench', ...body, seq: answered });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(view) });
        res.end(view);
      };
      if (delayMs > 0) setTimeout(answer, delayMs);
      else setImmediate(answer);
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }));
  process.on('message', () => {
    const used = process.cpuUsage();
    process.send?.({ cpuUs: used.user + used.system, answered });
  });
} else {
  const child = fork(new URL(import.meta.url).pathname, ['--serve', String(delayMs)], { execArgv: process.execArgv });
  const port = await new Promise<number>((resolve) => child.once('message', (m: { port: number }) => resolve(m.port)));
  const agent = new Agent({ keepAlive: true, maxSockets: inflight, maxFreeSockets: inflight });
  let n = 0;
  const hook = unpinned(`http://127.0.0.1:${port}`, agent);
  const viaHook = async () => {
    const outcome = await askGatehouse(
      { ...benchRequest(Date.now(), n++), timeoutMs: 300_000, idempotencyKey: `k${n}` },
      { server: hook, createTimeoutMs: 10_000, giveUpAt: Date.now() + 60_000, pollSeconds: 30 },
    );
    if (outcome.kind !== 'finished') throw new Error(`not finished: ${JSON.stringify(outcome)}`);
  };
  const viaNode = () =>
    new Promise<void>((resolve, reject) => {
      const body = JSON.stringify({ ...benchRequest(Date.now(), n++), timeoutMs: 300_000 });
      const req = request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/api/permission-requests?wait=30',
          agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'idempotency-key': `k${n}` },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            JSON.parse(Buffer.concat(chunks).toString('utf8'));
            resolve();
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const one = client === 'ask' ? viaHook : viaNode;
  const run = async (total: number) => {
    let issued = 0;
    const worker = async () => {
      while (issued < total) {
        issued += 1;
        await one();
      }
    };
    await Promise.all(Array.from({ length: inflight }, worker));
  };
  const usage = () =>
    new Promise<{ cpuUs: number; answered: number }>((resolve) => {
      child.once('message', resolve);
      child.send('usage');
    });
  await run(Math.min(5_000, calls)); // warm-up
  const server0 = await usage();
  const agents0 = process.cpuUsage();
  const t0 = performance.now();
  await run(calls);
  const seconds = (performance.now() - t0) / 1000;
  const server1 = await usage();
  const agents1 = process.cpuUsage();
  const perCall = (us: number) => `${(us / calls).toFixed(0)} µs`;
  console.log(
    `node:http floor, ${inflight} in flight on keep-alive connections, ${calls} calls${delayMs > 0 ? `, each answered after ${delayMs} ms` : ''}, the agents through ${client === 'ask' ? 'the hook client (askGatehouse)' : 'node:http'}:`,
  );
  console.log(`  ${(calls / seconds).toFixed(0)} calls/s`);
  console.log(`  server CPU per call: ${perCall(server1.cpuUs - server0.cpuUs)}`);
  console.log(`  agent process CPU per call: ${perCall(agents1.user + agents1.system - agents0.user - agents0.system)}`);
  agent.destroy();
  child.kill();
}
