#!/usr/bin/env node
// `npm run cluster`: a local demo of several Gatehouse instances as one (issue 13,
// contract-2 section 6; SPEC.md TEAM-C5). Starts N `bin/gatehouse serve` processes on the
// machine's PostgreSQL (the database is created when missing) and NATS, with one owner
// token and one agent token for all, prints their URLs and the tokens, and stops them on
// Ctrl-C. For a real deployment put a reverse proxy in front (docs/cluster.md).
//
//   npm run cluster [-- --instances N] [--base-port P] [--store postgres://…] [--bus nats://…]
//                   [--data-dir D] [-- serve flags…]
//
// Defaults: 3 instances on ports 3001.. (`--base-port 0`: free ports), the store
// GATEHOUSE_STORE or postgres://postgres@127.0.0.1:5432/gatehouse_cluster, the bus
// GATEHOUSE_BUS or nats://127.0.0.1:4222, data directories and tokens under
// ~/.gatehouse-cluster (the tokens kept there, mode 0600, unless GATEHOUSE_TOKEN /
// GATEHOUSE_AGENT_TOKEN are set).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { buildCommands, isBundleFresh } from './build-cli.js';
import { shownUrl } from './lib/teamServices.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const READY = /^Gatehouse listening on (http:\/\/\S+)$/m;

function parseArgs(argv) {
  const options = {
    instances: 3,
    basePort: 3001,
    store: process.env.GATEHOUSE_STORE || 'postgres://postgres@127.0.0.1:5432/gatehouse_cluster',
    bus: process.env.GATEHOUSE_BUS || 'nats://127.0.0.1:4222',
    dataDir: join(homedir(), '.gatehouse-cluster'),
    serveArgs: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    if (flag === '--') options.serveArgs = argv.slice(i + 1);
    else if (flag === '--instances') options.instances = Number(value());
    else if (flag === '--base-port') options.basePort = Number(value());
    else if (flag === '--store') options.store = value();
    else if (flag === '--bus') options.bus = value();
    else if (flag === '--data-dir') options.dataDir = value();
    else throw new Error(`unknown flag ${flag} (serve's own flags go after --)`);
    if (flag === '--') break;
  }
  if (!Number.isInteger(options.instances) || options.instances < 1 || options.instances > 26) throw new Error('--instances: expected 1 to 26');
  if (!Number.isInteger(options.basePort) || options.basePort < 0 || options.basePort + options.instances > 65536)
    throw new Error('--base-port: expected a port');
  if (!/^postgres(ql)?:\/\//.test(options.store)) throw new Error('--store: expected a postgres:// URL (one instance on SQLite needs no cluster: npm start)');
  if (!options.bus.startsWith('nats://')) throw new Error('--bus: expected nats://HOST:PORT');
  return options;
}

/** Creates the store's database when it does not exist (connecting to `postgres` on the same server). */
async function ensureDatabase(storeUrl) {
  const url = new URL(storeUrl);
  const name = decodeURIComponent(url.pathname.slice(1));
  if (!/^[A-Za-z0-9_]+$/.test(name)) throw new Error(`--store: the database name must be letters, digits and _ (got "${name}")`);
  url.pathname = '/postgres';
  const client = new pg.Client({ connectionString: url.toString(), connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) {
      await client.query(`CREATE DATABASE "${name}"`);
      return `created database ${name}`;
    }
    return `database ${name} exists`;
  } finally {
    await client.end();
  }
}

/** The env value, else a token kept in `file` (made on first use, mode 0600). */
function token(envValue, file) {
  if (envValue) return envValue;
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const made = randomBytes(32).toString('base64url');
  writeFileSync(file, `${made}\n`, { mode: 0o600 });
  return made;
}

function startInstance(name, port, options, env) {
  const dataDir = join(options.dataDir, name);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const args = ['serve', '--port', String(port), '--data-dir', dataDir, '--store', options.store, '--bus', options.bus, ...options.serveArgs];
  const proc = spawn(join(root, 'bin/gatehouse'), args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise((done) => proc.on('exit', (code, signal) => done({ code, signal })));
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (text) => {
    for (const line of text.split('\n')) if (line) process.stderr.write(`[${name}] ${line}\n`);
  });
  const ready = new Promise((resolve, reject) => {
    let out = '';
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (text) => {
      out += text;
      const match = READY.exec(out);
      if (match) resolve(match[1]);
    });
    void exited.then((info) => reject(new Error(`instance ${name} exited before it was ready (${JSON.stringify(info)})`)));
  });
  return { name, proc, exited, ready };
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('GATEHOUSE_')) delete env[key];
  env.GATEHOUSE_TOKEN = token(process.env.GATEHOUSE_TOKEN, join(options.dataDir, 'token'));
  env.GATEHOUSE_AGENT_TOKEN = token(process.env.GATEHOUSE_AGENT_TOKEN, join(options.dataDir, 'agent-token'));

  console.log(`Gatehouse cluster: ${await ensureDatabase(options.store)}`);
  if (!isBundleFresh('serve')) await buildCommands(['serve']);

  const instances = [];
  let stopping = false;
  const stop = async (code) => {
    if (stopping) return;
    stopping = true;
    for (const instance of instances) if (instance.proc.exitCode === null && instance.proc.signalCode === null) instance.proc.kill('SIGTERM');
    await Promise.all(instances.map((instance) => instance.exited));
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));

  // One after another: the first applies the schema, the others find it.
  const urls = [];
  for (let i = 0; i < options.instances; i++) {
    const name = String.fromCharCode(65 + i);
    const instance = startInstance(name, options.basePort === 0 ? 0 : options.basePort + i, options, env);
    instances.push(instance);
    try {
      urls.push(await instance.ready);
    } catch (error) {
      console.error(`Gatehouse cluster: ${error.message}`);
      await stop(1);
    }
    void instance.exited.then((info) => {
      if (stopping) return;
      console.error(`Gatehouse cluster: instance ${name} exited (${JSON.stringify(info)}); stopping the others`);
      void stop(1);
    });
  }

  console.log(`Gatehouse cluster: ${instances.length} instances on ${shownUrl(options.store)} and ${options.bus}`);
  for (const [i, instance] of instances.entries()) console.log(`  ${instance.name}  ${urls[i]}`);
  console.log(`  owner token (GATEHOUSE_TOKEN): ${env.GATEHOUSE_TOKEN}`);
  console.log(`  agent token (GATEHOUSE_AGENT_TOKEN): ${env.GATEHOUSE_AGENT_TOKEN}`);
  console.log('Gatehouse cluster: ready. Any instance serves every client and agent; Ctrl-C stops them all.');
}

main().catch((error) => {
  console.error(`Gatehouse cluster: ${error.message}`);
  process.exit(1);
});
