/**
 * Server configuration (protocol-v1.md §1): command-line flags, then environment, then
 * defaults. Pure: reads only the argv and env it is given, does no I/O, and turns every
 * bad value into a `ConfigError` that names the flag and says what is expected. The
 * token file is handled by `security/token.ts` once the data directory is known.
 */
import { homedir } from 'node:os';
import { isIP } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { LIMITS } from '../protocol/index.ts';
import { splitWords } from './agents/acp/words.ts';
import { DB_FILE } from './store/sqliteStore.ts';
import { DEFAULT_PUSH_ORIGINS, parsePushOrigin } from './push/origins.ts';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** `acp:CMD`: any ACP agent, CMD split into words shell-style and run without a shell. */
export type AgentKind = 'demo' | 'claude' | 'codex' | `acp:${string}`;
export const FAULT_POINTS = ['after-persist-before-send', 'after-send-before-ack', 'during-decision-store'] as const;
export type FaultPoint = (typeof FAULT_POINTS)[number];

/** Where the event log lives (contract-2 §6): a SQLite file, or a PostgreSQL database
 *  that several instances may share (docs/cluster.md). */
export type StoreLocation = { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string };

export type Config = {
  port: number;
  host: string;
  dataDir: string;
  /** `--store` / GATEHOUSE_STORE; absent: `sqlite:<dataDir>/gatehouse.db` (storeOf). Absent
   *  rather than filled in, so a Config copied with another dataDir follows it. */
  store?: StoreLocation;
  /** `--bus` / GATEHOUSE_BUS: `nats://HOST:PORT`, the bus between instances sharing a
   *  PostgreSQL store (contract-2 §6, docs/cluster.md). */
  bus?: string;
  /** false only with --no-auth / GATEHOUSE_AUTH=off, which is refused off loopback. */
  auth: boolean;
  /** GATEHOUSE_TOKEN when set; otherwise the token file (see security/token.ts). */
  envToken?: string | undefined;
  /** GATEHOUSE_AGENT_TOKEN when set; otherwise the agent-token file. */
  envAgentToken?: string | undefined;
  requestTimeoutMs: number;
  /** undefined: let the agents module choose (claude when reachable, else demo). */
  agent?: AgentKind | undefined;
  /** `--codex-bin` / GATEHOUSE_CODEX_BIN: the Codex CLI for `--agent codex` (default `codex` on PATH). */
  codexBin?: string | undefined;
  /** Extra allowed Origins (full origins, e.g. https://example.test:8443). */
  allowedOrigins: string[];
  /** Extra allowed Host header values (host or host:port). */
  allowedHosts: string[];
  /** @statelyai/inspect WebSocket relay URL; off when undefined. */
  inspect?: string | undefined;
  history: {
    /** Keep at least this many of the newest events... */
    keepEvents: number;
    /** ...and every event younger than this. */
    keepMs: number;
    pruneIntervalMs: number;
  };
  /** Client frames and HTTP bodies. */
  maxFrameBytes: number;
  /** A socket whose send buffer passes this is closed with 4000. */
  maxBufferedBytes: number;
  pingIntervalMs: number;
  /** Per-connection frames per second (token bucket, burst = one second's worth). */
  rateLimit: number;
  /** The built web UI. */
  staticDir: string;
  /** The DEBUG value (namespaces). */
  debug?: string | undefined;
  /** Test-only crash point (GATEHOUSE_FAULT). */
  fault?: FaultPoint | undefined;
  /** Web Push (docs/operations.md, "Web Push"). */
  push: {
    /** A new request not held by a screen after this long is pushed. */
    delayMs: number;
    /** Origins (or `https://*.domain` patterns) a subscription's endpoint may have. */
    allowedOrigins: string[];
    /** The VAPID `sub`: a mailto: or https: URL. */
    subject: string;
  };
  /** Bounded resources (contract-2 §3; docs/operations.md, "Limits"). */
  limits: LimitsConfig;
  /** `--tls-cert`/`--tls-key`: serve HTTPS and WSS (docs/operations.md, "TLS"); the PEM
   *  files' paths, read at start. Absent: plain HTTP (a reverse proxy may add TLS). */
  tls?: { certFile: string; keyFile: string };
};

export type LimitsConfig = {
  /** Unresolved requests at most; a create beyond: 429 too-many-requests. */
  maxUnresolved: number;
  /** Input and context bytes of the unresolved requests at most (protocol requestByteLength). */
  maxUnresolvedBytes: number;
  /** A request body still incomplete this long after its headers: 408 (long-polls have no body). */
  bodyTimeoutMs: number;
};

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export const DEFAULTS = {
  port: 3000,
  host: '127.0.0.1',
  requestTimeoutMs: LIMITS.defaultTimeoutMs,
  keepEvents: 10_000,
  keepMs: 24 * 60 * 60 * 1000,
  pruneIntervalMs: 60_000,
  maxBufferedBytes: 8 << 20,
  pingIntervalMs: 30_000,
  rateLimit: 2_000,
  /** The contract: rate limits never trip below this. */
  minRateLimit: 1_000,
  maxUnresolved: 10_000,
  maxUnresolvedBytes: 256 << 20,
  bodyTimeoutMs: 10_000,
  pushDelayMs: 3_000,
  pushSubject: 'mailto:gatehouse@localhost',
} as const;

export const USAGE = `Usage: gatehouse serve [options]

  --port N                 port (GATEHOUSE_PORT, default 3000; 0 picks a free port)
  --host H                 bind address (GATEHOUSE_HOST, default 127.0.0.1)
  --data-dir D             database and token (GATEHOUSE_DATA_DIR, default ~/.gatehouse)
  --store URL              event store: sqlite:PATH or postgres://USER@HOST:PORT/DB
                           (GATEHOUSE_STORE, default sqlite:<data-dir>/gatehouse.db)
  --bus URL                nats://HOST:PORT: the bus between instances sharing one
                           PostgreSQL store (GATEHOUSE_BUS; without it, one instance)
  --no-auth                no token (GATEHOUSE_AUTH=off); refused unless loopback
  --request-timeout MS     default request timeout (GATEHOUSE_REQUEST_TIMEOUT_MS, 120000)
  --agent demo|claude|codex|acp:CMD  agent (GATEHOUSE_AGENT); e.g. 'acp:gemini --acp'
  --codex-bin PATH         the Codex CLI for --agent codex (GATEHOUSE_CODEX_BIN, default codex on PATH)
  --allowed-origins LIST   extra allowed Origins, comma separated (GATEHOUSE_ALLOWED_ORIGINS)
  --allowed-hosts LIST     extra allowed Host values, comma separated (GATEHOUSE_ALLOWED_HOSTS)
  --inspect URL            Stately inspector WebSocket relay (GATEHOUSE_INSPECT)
  --history-events N       keep at least N events (GATEHOUSE_HISTORY_EVENTS, 10000)
  --history-age-ms MS      and every event younger than MS (GATEHOUSE_HISTORY_AGE_MS, 86400000)
  --prune-interval-ms MS   how often history is pruned (GATEHOUSE_PRUNE_INTERVAL_MS, 60000)
  --max-frame-bytes N      client frame and body limit (GATEHOUSE_MAX_FRAME_BYTES, 1048576)
  --max-buffered-bytes N   slow-consumer bound (GATEHOUSE_MAX_BUFFERED_BYTES, 8388608)
  --ping-interval-ms MS    protocol ping interval (GATEHOUSE_PING_INTERVAL_MS, 30000)
  --rate-limit N           frames per second per connection, >= 1000 (GATEHOUSE_RATE_LIMIT, 2000)
  --static-dir D           built web UI (GATEHOUSE_STATIC_DIR, default <repo>/dist)
  --max-unresolved N       unresolved requests at most (GATEHOUSE_MAX_UNRESOLVED, 10000)
  --max-unresolved-bytes B their input and context bytes at most (GATEHOUSE_MAX_UNRESOLVED_BYTES, 268435456)
  --body-timeout-ms MS     a request body must arrive within MS (GATEHOUSE_BODY_TIMEOUT_MS, 10000)
  --push-delay-ms MS       push a request no screen holds after MS (GATEHOUSE_PUSH_DELAY_MS, 3000)
  --push-allowed-origins L push service origins, comma separated (GATEHOUSE_PUSH_ALLOWED_ORIGINS,
                           default: Chrome, Firefox, Safari and Edge; https://*.domain for a label)
  --push-subject URL       VAPID contact, mailto: or https: (GATEHOUSE_PUSH_SUBJECT, mailto:gatehouse@localhost)
  --tls-cert FILE          serve HTTPS/WSS with this PEM certificate (GATEHOUSE_TLS_CERT; needs --tls-key)
  --tls-key FILE           its PEM private key (GATEHOUSE_TLS_KEY)
  -h, --help               this text
`;

export type ParsedCommand = { help: true } | { help: false; config: Config };

type Env = Record<string, string | undefined>;

function integer(name: string, raw: string, min: number, max: number): number {
  const text = raw.trim();
  if (!/^-?\d+$/.test(text)) throw new ConfigError(`${name}: expected an integer, got "${raw}"`);
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name}: expected an integer from ${min} to ${max}, got ${raw}`);
  }
  return value;
}

function list(raw: string | undefined): string[] {
  return (raw ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

/** 127.0.0.0/8, ::1 and localhost: the addresses no other machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (h.startsWith('::ffff:')) return h.slice(7).startsWith('127.');
  return false;
}

/** 0.0.0.0 and ::: every interface, so the ready line names a LAN address. */
export function isWildcardHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  return h === '0.0.0.0' || h === '::' || h === '0:0:0:0:0:0:0:0';
}

function checkOrigin(name: string, origin: string): string {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    throw new ConfigError(`${name}: "${origin}" is not an origin such as https://host:port`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`${name}: "${origin}" must start with http:// or https://`);
  }
  return url.origin;
}

function checkHostValue(name: string, value: string): string {
  if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/.test(value)) {
    throw new ConfigError(`${name}: "${value}" is not a host or host:port`);
  }
  return value.toLowerCase();
}

function checkToken(name: string, raw: string): string {
  if (raw.length === 0 || raw.length > 512 || !/^[\x21-\x7e]+$/.test(raw)) {
    throw new ConfigError(`${name}: expected 1 to 512 printable characters without spaces`);
  }
  return raw;
}

/** The store a Config names: `--store`, or the data directory's SQLite file. */
export function storeOf(config: Pick<Config, 'store' | 'dataDir'>): StoreLocation {
  return config.store ?? { kind: 'sqlite', file: join(config.dataDir, DB_FILE) };
}

/** `sqlite:PATH` (relative to the working folder) or `postgres://…` / `postgresql://…`.
 *  A bad value is named without echoing it whole: a URL may carry a password. */
export function parseStore(name: string, raw: string): StoreLocation {
  if (raw.startsWith('sqlite:')) {
    const path = raw.slice('sqlite:'.length);
    if (!path) throw new ConfigError(`${name}: sqlite:PATH needs the database file's path, e.g. sqlite:/var/lib/gatehouse/gatehouse.db`);
    return { kind: 'sqlite', file: resolve(path) };
  }
  if (raw.startsWith('postgres://') || raw.startsWith('postgresql://')) {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new ConfigError(`${name}: not a valid URL; expected postgres://USER@HOST:PORT/DATABASE`);
    }
    if (!url.hostname) throw new ConfigError(`${name}: the PostgreSQL URL needs a host, e.g. postgres://gatehouse@db.internal:5432/gatehouse`);
    if (url.pathname.length <= 1) throw new ConfigError(`${name}: the PostgreSQL URL needs a database name, e.g. postgres://gatehouse@${url.host}/gatehouse`);
    return { kind: 'postgres', url: raw };
  }
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:/.exec(raw)?.[0];
  throw new ConfigError(`${name}: expected sqlite:PATH or postgres://USER@HOST:PORT/DATABASE, got ${scheme ? `a ${scheme} URL` : 'neither'}`);
}

/** `nats://HOST:PORT` (the bus, contract-2 §6); named without echoing it (it may carry a user). */
export function parseBus(name: string, raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`${name}: not a valid URL; expected nats://HOST:PORT`);
  }
  if (url.protocol !== 'nats:') throw new ConfigError(`${name}: expected nats://HOST:PORT, got a ${url.protocol} URL`);
  if (!url.hostname) throw new ConfigError(`${name}: the NATS URL needs a host, e.g. nats://127.0.0.1:4222`);
  return raw;
}

/** Parse `serve` arguments and the environment into a validated Config. */
export function parseServeArgs(argv: string[], env: Env = process.env): ParsedCommand {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        'data-dir': { type: 'string' },
        store: { type: 'string' },
        bus: { type: 'string' },
        'no-auth': { type: 'boolean' },
        'request-timeout': { type: 'string' },
        agent: { type: 'string' },
        'codex-bin': { type: 'string' },
        'allowed-origins': { type: 'string' },
        'allowed-hosts': { type: 'string' },
        inspect: { type: 'string' },
        'history-events': { type: 'string' },
        'history-age-ms': { type: 'string' },
        'prune-interval-ms': { type: 'string' },
        'max-frame-bytes': { type: 'string' },
        'max-buffered-bytes': { type: 'string' },
        'ping-interval-ms': { type: 'string' },
        'rate-limit': { type: 'string' },
        'static-dir': { type: 'string' },
        'max-unresolved': { type: 'string' },
        'max-unresolved-bytes': { type: 'string' },
        'body-timeout-ms': { type: 'string' },
        'push-delay-ms': { type: 'string' },
        'push-allowed-origins': { type: 'string' },
        'push-subject': { type: 'string' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new ConfigError(`${(error as Error).message.split('\n')[0]}\n\n${USAGE}`);
  }
  if (values.help) return { help: true };

  const pick = (flag: string, envName: string): [string, string | undefined] => {
    const fromFlag = values[flag];
    if (typeof fromFlag === 'string') return [`--${flag}`, fromFlag];
    const fromEnv = env[envName];
    return [envName, fromEnv === undefined || fromEnv === '' ? undefined : fromEnv];
  };

  const [portName, portRaw] = pick('port', 'GATEHOUSE_PORT');
  const port = portRaw === undefined ? DEFAULTS.port : integer(portName, portRaw, 0, 65535);

  const [hostName, hostRaw] = pick('host', 'GATEHOUSE_HOST');
  const host = (hostRaw ?? DEFAULTS.host).trim();
  if (!host || !(isIP(host.replace(/^\[|\]$/g, '')) || /^[A-Za-z0-9.-]+$/.test(host))) {
    throw new ConfigError(`${hostName}: "${hostRaw}" is not an IP address or host name`);
  }

  const [, dataRaw] = pick('data-dir', 'GATEHOUSE_DATA_DIR');
  const dataDir = resolve(dataRaw ?? join(homedir(), '.gatehouse'));
  const [storeName, storeRaw] = pick('store', 'GATEHOUSE_STORE');
  const store = storeRaw === undefined ? undefined : parseStore(storeName, storeRaw);
  const [busName, busRaw] = pick('bus', 'GATEHOUSE_BUS');
  const bus = busRaw === undefined || busRaw === '' ? undefined : parseBus(busName, busRaw);
  if (bus !== undefined && store?.kind !== 'postgres') {
    throw new ConfigError(`${busName} joins instances that share a PostgreSQL store: add --store postgres://USER@HOST:PORT/DATABASE (GATEHOUSE_STORE)`);
  }

  let auth = true;
  if (values['no-auth']) auth = false;
  else if (env.GATEHOUSE_AUTH !== undefined && env.GATEHOUSE_AUTH !== '') {
    const v = env.GATEHOUSE_AUTH.toLowerCase();
    if (v === 'off' || v === 'false' || v === '0') auth = false;
    else if (v !== 'on' && v !== 'true' && v !== '1') {
      throw new ConfigError(`GATEHOUSE_AUTH: expected "on" or "off", got "${env.GATEHOUSE_AUTH}"`);
    }
  }
  if (!auth && !isLoopbackHost(host)) {
    throw new ConfigError(`refusing to turn auth off on ${host}: --no-auth (GATEHOUSE_AUTH=off) is only allowed on a loopback address such as 127.0.0.1`);
  }

  const envToken = env.GATEHOUSE_TOKEN ? checkToken('GATEHOUSE_TOKEN', env.GATEHOUSE_TOKEN) : undefined;
  const envAgentToken = env.GATEHOUSE_AGENT_TOKEN ? checkToken('GATEHOUSE_AGENT_TOKEN', env.GATEHOUSE_AGENT_TOKEN) : undefined;
  if (envToken !== undefined && envToken === envAgentToken) {
    throw new ConfigError('GATEHOUSE_AGENT_TOKEN: must differ from GATEHOUSE_TOKEN (the agent must not hold the owner credential)');
  }

  const [rtName, rtRaw] = pick('request-timeout', 'GATEHOUSE_REQUEST_TIMEOUT_MS');
  const requestTimeoutMs = rtRaw === undefined ? DEFAULTS.requestTimeoutMs : integer(rtName, rtRaw, LIMITS.minTimeoutMs, LIMITS.maxTimeoutMs);

  const [agentName, agentRaw] = pick('agent', 'GATEHOUSE_AGENT');
  let agent: AgentKind | undefined;
  if (agentRaw !== undefined) {
    if (agentRaw.startsWith('acp:')) {
      const words = splitWords(agentRaw.slice('acp:'.length));
      if (!words.ok) throw new ConfigError(`${agentName}: acp:CMD needs a command (${words.error}), e.g. 'acp:gemini --acp'`);
      // It names the agent on every request (context.agent), whose limit is an id's length.
      if (agentRaw.length > LIMITS.maxIdLength)
        throw new ConfigError(
          `${agentName}: acp:CMD must be at most ${LIMITS.maxIdLength} characters (it names the agent on every card); use a shorter path or a wrapper script`,
        );
      agent = agentRaw as `acp:${string}`;
    } else if (agentRaw === 'demo' || agentRaw === 'claude' || agentRaw === 'codex') agent = agentRaw;
    else throw new ConfigError(`${agentName}: expected demo, claude, codex or acp:CMD, got "${agentRaw}"`);
  }
  const [, codexBin] = pick('codex-bin', 'GATEHOUSE_CODEX_BIN');

  const [aoName, aoRaw] = pick('allowed-origins', 'GATEHOUSE_ALLOWED_ORIGINS');
  const allowedOrigins = list(aoRaw).map((o) => checkOrigin(aoName, o));
  const [ahName, ahRaw] = pick('allowed-hosts', 'GATEHOUSE_ALLOWED_HOSTS');
  const allowedHosts = list(ahRaw).map((h) => checkHostValue(ahName, h));

  const [inspectName, inspectRaw] = pick('inspect', 'GATEHOUSE_INSPECT');
  let inspect: string | undefined;
  if (inspectRaw !== undefined) {
    let url: URL;
    try {
      url = new URL(inspectRaw);
    } catch {
      throw new ConfigError(`${inspectName}: "${inspectRaw}" is not a URL such as ws://localhost:8080`);
    }
    if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw new ConfigError(`${inspectName}: expected a ws:// or wss:// URL`);
    inspect = url.toString();
  }

  const num = (flag: string, envName: string, fallback: number, min: number, max: number) => {
    const [name, raw] = pick(flag, envName);
    return raw === undefined ? fallback : integer(name, raw, min, max);
  };

  const keepEvents = num('history-events', 'GATEHOUSE_HISTORY_EVENTS', DEFAULTS.keepEvents, 1, 1e9);
  const keepMs = num('history-age-ms', 'GATEHOUSE_HISTORY_AGE_MS', DEFAULTS.keepMs, 0, 365 * 86_400_000);
  const pruneIntervalMs = num('prune-interval-ms', 'GATEHOUSE_PRUNE_INTERVAL_MS', DEFAULTS.pruneIntervalMs, 100, 86_400_000);
  const maxFrameBytes = num('max-frame-bytes', 'GATEHOUSE_MAX_FRAME_BYTES', LIMITS.maxFrameBytes, 1024, 64 << 20);
  const maxBufferedBytes = num('max-buffered-bytes', 'GATEHOUSE_MAX_BUFFERED_BYTES', DEFAULTS.maxBufferedBytes, 64 << 10, 1 << 30);
  const pingIntervalMs = num('ping-interval-ms', 'GATEHOUSE_PING_INTERVAL_MS', DEFAULTS.pingIntervalMs, 100, 3_600_000);
  const rateLimit = num('rate-limit', 'GATEHOUSE_RATE_LIMIT', DEFAULTS.rateLimit, DEFAULTS.minRateLimit, 1e7);

  const limits: LimitsConfig = {
    maxUnresolved: num('max-unresolved', 'GATEHOUSE_MAX_UNRESOLVED', DEFAULTS.maxUnresolved, 1, 10_000_000),
    maxUnresolvedBytes: num('max-unresolved-bytes', 'GATEHOUSE_MAX_UNRESOLVED_BYTES', DEFAULTS.maxUnresolvedBytes, 1024, 2 ** 40),
    bodyTimeoutMs: num('body-timeout-ms', 'GATEHOUSE_BODY_TIMEOUT_MS', DEFAULTS.bodyTimeoutMs, 100, 3_600_000),
  };

  const [, staticRaw] = pick('static-dir', 'GATEHOUSE_STATIC_DIR');
  const staticDir = resolve(staticRaw ?? join(repoRoot, 'dist'));

  const pushDelayMs = num('push-delay-ms', 'GATEHOUSE_PUSH_DELAY_MS', DEFAULTS.pushDelayMs, 0, LIMITS.maxTimeoutMs);
  const [poName, poRaw] = pick('push-allowed-origins', 'GATEHOUSE_PUSH_ALLOWED_ORIGINS');
  const pushAllowedOrigins =
    poRaw === undefined
      ? [...DEFAULT_PUSH_ORIGINS]
      : list(poRaw).map((o) => {
          const parsed = parsePushOrigin(o);
          if (typeof parsed === 'string') throw new ConfigError(`${poName}: ${parsed}`);
          return parsed.text;
        });
  const [psName, psRaw] = pick('push-subject', 'GATEHOUSE_PUSH_SUBJECT');
  const pushSubject = psRaw ?? DEFAULTS.pushSubject;
  if (!/^(mailto:[^\s@]+@[^\s@]+|https:\/\/[^\s/]+\S*)$/.test(pushSubject)) {
    throw new ConfigError(`${psName}: expected a mailto: address or an https: URL (the push services' contact for this server), got "${psRaw}"`);
  }

  const [certName, certRaw] = pick('tls-cert', 'GATEHOUSE_TLS_CERT');
  const [keyName, keyRaw] = pick('tls-key', 'GATEHOUSE_TLS_KEY');
  if ((certRaw === undefined) !== (keyRaw === undefined)) {
    throw new ConfigError(
      certRaw === undefined ? `${keyName} needs --tls-cert (GATEHOUSE_TLS_CERT) too` : `${certName} needs --tls-key (GATEHOUSE_TLS_KEY) too`,
    );
  }
  const tls = certRaw !== undefined && keyRaw !== undefined ? { certFile: resolve(certRaw), keyFile: resolve(keyRaw) } : undefined;

  let fault: FaultPoint | undefined;
  if (env.GATEHOUSE_FAULT) {
    if (!(FAULT_POINTS as readonly string[]).includes(env.GATEHOUSE_FAULT)) {
      throw new ConfigError(`GATEHOUSE_FAULT: expected one of ${FAULT_POINTS.join(', ')}, got "${env.GATEHOUSE_FAULT}"`);
    }
    fault = env.GATEHOUSE_FAULT as FaultPoint;
  }

  return {
    help: false,
    config: {
      port,
      host,
      dataDir,
      ...(store ? { store } : {}),
      ...(bus ? { bus } : {}),
      auth,
      envToken,
      envAgentToken,
      requestTimeoutMs,
      agent,
      ...(codexBin ? { codexBin } : {}),
      allowedOrigins,
      allowedHosts,
      inspect,
      history: { keepEvents, keepMs, pruneIntervalMs },
      maxFrameBytes,
      maxBufferedBytes,
      pingIntervalMs,
      rateLimit,
      staticDir,
      debug: env.DEBUG,
      fault,
      limits,
      push: { delayMs: pushDelayMs, allowedOrigins: pushAllowedOrigins, subject: pushSubject },
      ...(tls ? { tls } : {}),
    },
  };
}

/** A full Config with defaults, for in-process tests. */
export function testConfig(overrides: Partial<Config> = {}): Config {
  const parsed = parseServeArgs(['--port', '0', '--data-dir', '/nonexistent-test-dir'], {});
  if (parsed.help) throw new Error('unreachable');
  return { ...parsed.config, ...overrides };
}
