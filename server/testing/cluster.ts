/**
 * Test helper: several `bin/gatehouse serve` processes (the built bundle, as an operator
 * runs them) on one PostgreSQL database and one NATS server, sharing the owner and agent
 * tokens (contract-2 section 6). Each instance keeps its own data directory and port; a
 * `kill -9` and a restart on the same data directory and port are one call each.
 *
 *   const cluster = await startCluster({ size: 3, storeUrl: database.url, busUrl: TEST_NATS_URL });
 *   cluster.instances[1].kill9(); await cluster.instances[1].restart();
 *   await cluster.stop();
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCommands, isBundleFresh } from '../../scripts/build-cli.js';
import { startServerProcess, type ExitInfo, type ServerProcess } from './serverProcess.ts';

export type ClusterInstance = {
  /** `A`, `B`, `C`, … */
  name: string;
  /** The running process; replaced by `restart`. */
  server: ServerProcess;
  /** False from the moment `kill9` is called until `restart` resolves. */
  alive: boolean;
  port: number;
  dataDir: string;
  kill9(): Promise<ExitInfo>;
  /** The same data directory and port (a load balancer's configuration does not change). */
  restart(): Promise<void>;
};

export type Cluster = {
  instances: ClusterInstance[];
  token: string;
  agentToken: string;
  live(): ClusterInstance[];
  /** The last lines of every instance's stderr, for a failure's message. */
  stderrTail(lines?: number): string;
  stop(): Promise<void>;
};

export type ClusterOptions = {
  size: number;
  storeUrl: string;
  /** `--bus`; absent: none (one instance alone, while the bus flag does not exist yet). */
  busUrl?: string;
  /** Extra `serve` flags for every instance. */
  args?: string[];
  env?: Record<string, string>;
  echoStderr?: boolean;
};

/** Builds dist-cli/serve.mjs when a source is newer (bin/gatehouse would fall back to tsx). */
export async function ensureServeBundle(): Promise<void> {
  if (!isBundleFresh('serve')) await buildCommands(['serve']);
}

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  await ensureServeBundle();
  const token = `cluster-owner-${randomBytes(16).toString('hex')}`;
  const agentToken = `cluster-agent-${randomBytes(16).toString('hex')}`;
  const env = { GATEHOUSE_TOKEN: token, GATEHOUSE_AGENT_TOKEN: agentToken, ...options.env };
  const flags = ['--store', options.storeUrl, ...(options.busUrl ? ['--bus', options.busUrl] : []), ...(options.args ?? [])];
  const launch = (dataDir: string, port: number) =>
    startServerProcess({
      launcher: 'bin',
      dataDir,
      env,
      args: [...flags, '--port', String(port)],
      readyTimeoutMs: 20_000,
      ...(options.echoStderr ? { echoStderr: true } : {}),
    });

  const names = Array.from({ length: options.size }, (_, i) => String.fromCharCode(65 + i));
  const dirs = names.map((name) => mkdtempSync(join(tmpdir(), `gatehouse-cluster-${name}-`)));
  // One after another: the first applies the migrations (the others would wait on its
  // advisory lock anyway) and two cores start three processes no faster in parallel.
  const instances: ClusterInstance[] = [];
  // Restarts under way: `stop` waits for them, so a test that fails meanwhile leaks no process.
  const restarts = new Set<Promise<ServerProcess>>();
  try {
    for (const [i, name] of names.entries()) {
      const dataDir = dirs[i]!;
      const server = await launch(dataDir, 0);
      const instance: ClusterInstance = {
        name,
        server,
        alive: true,
        port: server.port,
        dataDir,
        async kill9() {
          instance.alive = false;
          return instance.server.kill('SIGKILL');
        },
        async restart() {
          const starting = launch(dataDir, instance.port);
          restarts.add(starting);
          try {
            instance.server = await starting;
            instance.alive = true;
          } finally {
            restarts.delete(starting);
          }
        },
      };
      instances.push(instance);
    }
  } catch (error) {
    for (const instance of instances) await instance.server.kill('SIGKILL');
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    throw error;
  }

  return {
    instances,
    token,
    agentToken,
    live: () => instances.filter((i) => i.alive),
    stderrTail(lines = 15) {
      return instances.map((i) => `--- ${i.name} (port ${i.port}) stderr:\n${i.server.stderr().split('\n').slice(-lines).join('\n')}`).join('\n');
    },
    async stop() {
      await Promise.allSettled([...restarts]);
      await Promise.all(instances.map((i) => i.server.stop()));
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    },
  };
}
