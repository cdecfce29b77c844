/**
 * Gatehouse's HTTP path alone, with as little noise as two cores allow: a measure, not a
 * test. `npx tsx bench/httpAlone.ts [calls] [in flight]` (BENCHMARKS.md, "HTTP agents:
 * the server alone").
 *
 * The server process (bundled first, as `serve` runs, so tsx's transform is not in its
 * figures) runs on core 0 when `taskset` is there, this process on core 1. The server
 * decides each request in-process at the commit of its `permission-request` (through its
 * host, as a rule would), so no deciding client shares the machine. Three sections, each
 * printed with calls/s and the server's CPU per round trip:
 * - `http`: `in flight` callers on keep-alive connections (node:http's Agent) asking with
 *   create-and-wait (`POST /api/permission-requests?wait=30`, an Idempotency-Key each);
 * - `in-process`: the same number of callers inside the server, `host.create` then
 *   `host.awaitOutcome`: the broker, the store and the actors without HTTP;
 * - `http` again, so that drift over the run shows.
 * The difference of the first two is what the HTTP path costs; `bench/httpFloor.ts` gives
 * what node:http itself costs at the same rate (its answer delay argument).
 *
 * BENCH_PROFILE=DIR: the server's CPU profiles of the first `http` section and of the
 * `in-process` one, as DIR/http.cpuprofile and DIR/in-process.cpuprofile.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

type Usage = { cpuUs: number };
type FromServer = { port: number } | Usage | { done: true };

async function serve(): Promise<void> {
  const { parseServeArgs } = await import('../server/config.ts');
  const { silentLogger } = await import('../server/log.ts');
  const { startServer } = await import('../server/server.ts');
  const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-http-alone-'));
  const parsed = parseServeArgs(['--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir, '--no-auth', '--rate-limit', '1000000'], {});
  if (parsed.help) throw new Error('unexpected --help');
  const server = await startServer(parsed.config, { logger: silentLogger });
  const host = server.host;
  host.onCommitted((events) => {
    for (const event of events) {
      if (event.type === 'permission-request') void host.decide({ requestId: event.id, decision: 'allow', decidedBy: 'http', via: 'http' });
    }
  });
  let session: Session | undefined;
  const reply = (message: FromServer) => process.send?.(message);
  process.on('message', async (message: string) => {
    const [command, a, b] = message.split(' ');
    if (command === 'usage') {
      const used = process.cpuUsage();
      reply({ cpuUs: used.user + used.system });
    } else if (command === 'profile-start') {
      session = new Session();
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
      reply({ done: true });
    } else if (command === 'profile-stop' && session && a) {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(a, JSON.stringify(profile));
      reply({ done: true });
    } else if (command === 'in-process') {
      const count = Number(a);
      let issued = 0;
      const caller = async () => {
        while (issued < count) {
          issued += 1;
          const answer = await host.create({
            toolName: 'Bash',
            input: { command: `echo ${issued}` },
            context: { agent: 'bench' },
            timeoutMs: 300_000,
            origin: 'http',
          });
          await host.awaitOutcome(answer.id);
        }
      };
      await Promise.all(Array.from({ length: Number(b) }, caller));
      reply({ done: true });
    } else if (command === 'stop') {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
      process.exit(0);
    }
  });
  reply({ port: server.port });
}

async function measure(calls: number, inflight: number): Promise<void> {
  const { bundleEntry } = await import('./child.ts');
  const bundle = await bundleEntry('httpAlone.ts');
  const pinned = (() => {
    try {
      execFileSync('taskset', ['-cp', '1', String(process.pid)], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();
  const argv = [process.execPath, bundle, '--serve'];
  const child = pinned
    ? spawn('taskset', ['-c', '0', ...argv], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    : spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ask = <T extends FromServer>(command?: string) =>
    new Promise<T>((resolve) => {
      child.once('message', (message) => resolve(message as T));
      if (command) child.send(command);
    });
  const { port } = await ask<{ port: number }>();
  const agent = new Agent({ keepAlive: true, maxSockets: inflight, maxFreeSockets: inflight });
  let n = 0;
  const one = () =>
    new Promise<void>((resolve, reject) => {
      n += 1;
      const body = JSON.stringify({
        toolName: 'Bash',
        input: { command: `echo bench ${n}`, description: 'a bench request' },
        context: { agent: 'bench', cwd: '/tmp' },
        timeoutMs: 300_000,
      });
      const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'idempotency-key': `k${n}` };
      const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/api/permission-requests?wait=30', agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const view = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { status?: string };
          if (view.status === 'resolved') resolve();
          else reject(new Error(`not resolved: ${JSON.stringify(view).slice(0, 200)}`));
        });
      });
      req.on('error', reject);
      req.end(body);
    });
  const overHttp = async (total: number) => {
    let issued = 0;
    const caller = async () => {
      while (issued < total) {
        issued += 1;
        await one();
      }
    };
    await Promise.all(Array.from({ length: inflight }, caller));
  };
  const section = async (label: string, run: () => Promise<unknown>, profile?: string) => {
    if (profile) await ask('profile-start');
    const before = await ask<Usage>('usage');
    const t0 = performance.now();
    await run();
    const seconds = (performance.now() - t0) / 1000;
    const after = await ask<Usage>('usage');
    if (profile) await ask(`profile-stop ${profile}`);
    console.log(
      `  ${label.padEnd(10)} ${(calls / seconds).toFixed(0).padStart(6)} round trips/s, server CPU ${((after.cpuUs - before.cpuUs) / calls).toFixed(0)} µs per round trip`,
    );
  };
  console.log(
    `Gatehouse's HTTP path alone: ${calls} round trips, ${inflight} in flight, decided in-process at commit; ${pinned ? 'server on core 0, callers on core 1' : 'not pinned (no taskset)'}`,
  );
  await overHttp(Math.min(3000, calls)); // warm-up
  const profiles = process.env.BENCH_PROFILE;
  await section('http', () => overHttp(calls), profiles && join(profiles, 'http.cpuprofile'));
  await section('in-process', () => ask(`in-process ${calls} ${inflight}`), profiles && join(profiles, 'in-process.cpuprofile'));
  await section('http', () => overHttp(calls));
  agent.destroy();
  child.send('stop');
}

if (process.argv[2] === '--serve') await serve();
else await measure(Number(process.argv[2] ?? 10_000), Number(process.argv[3] ?? 200));
