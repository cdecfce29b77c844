/**
 * Logging: `DEBUG=websocket,permissions` style namespaces on stderr, one line per event
 * that matters. Every line goes through `redact`, so the token never reaches a log even
 * when a URL or header that carries it is logged by mistake (protocol-v1.md §1: the ready
 * line is the only place the token is printed).
 */
import { SESSION_COOKIE_NAME_PATTERN } from './security/token.ts';

export type LogNamespace = 'websocket' | 'permissions' | 'http' | 'store' | 'server' | 'push';
export type LogFields = Record<string, unknown>;

export interface Logger {
  /** Gated by DEBUG: one line per event that matters. */
  debug(ns: LogNamespace, message: string, fields?: LogFields): void;
  /** Always printed: start-up facts, warnings. */
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  enabled(ns: LogNamespace): boolean;
  /** Values that must never appear in a line (the token). */
  addSecret(secret: string): void;
}

/** Which namespaces a DEBUG value turns on: comma or space separated, `*` for all,
 *  `gatehouse:websocket` accepted as an alias of `websocket`. */
export function parseDebug(value: string | undefined): (ns: LogNamespace) => boolean {
  const names = new Set(
    (value ?? '')
      .split(/[\s,]+/)
      .map((name) => name.trim().replace(/^gatehouse:/, ''))
      .filter(Boolean),
  );
  const all = names.has('*');
  return (ns) => all || names.has(ns);
}

const TOKEN_PARAM = /([?&;]token=)[^&\s"']*/gi;
const BEARER = /(bearer\s+)[^\s"']+/gi;
const COOKIE = new RegExp(`(${SESSION_COOKIE_NAME_PATTERN}=)[^;\\s"']+`, 'gi');
/** A pairing link's code is a one-time credential (server/security/pairing.ts). */
const PAIR_CODE = /(\/pair\/)[^\s"'?#/]+/gi;

export function redact(text: string, secrets: readonly string[] = []): string {
  let out = text.replace(TOKEN_PARAM, '$1[redacted]').replace(BEARER, '$1[redacted]').replace(COOKIE, '$1[redacted]').replace(PAIR_CODE, '$1[redacted]');
  for (const secret of secrets) if (secret.length >= 8) out = out.split(secret).join('[redacted]');
  return out;
}

function formatFields(fields: LogFields | undefined): string {
  if (!fields) return '';
  const parts: string[] = [];
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    const text = typeof value === 'string' ? (/[\s"=]/.test(value) ? JSON.stringify(value) : value) : JSON.stringify(value);
    parts.push(`${key}=${text}`);
  }
  return parts.length ? ' ' + parts.join(' ') : '';
}

export type LoggerOptions = {
  /** GATEHOUSE_DEBUG as given (undefined: not set). */
  debug?: string | undefined;
  /** Where lines go; stderr by default. */
  write?: (line: string) => void;
  now?: () => number;
};

export function createLogger(options: LoggerOptions = {}): Logger {
  const isOn = parseDebug(options.debug);
  const write = options.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const now = options.now ?? Date.now;
  const secrets: string[] = [];
  const line = (tag: string, message: string, fields?: LogFields) => {
    write(redact(`${new Date(now()).toISOString()} ${tag} ${message}${formatFields(fields)}`, secrets));
  };
  return {
    debug(ns, message, fields) {
      if (isOn(ns)) line(ns, message, fields);
    },
    info: (message, fields) => line('info', message, fields),
    warn: (message, fields) => line('warn', message, fields),
    error: (message, fields) => line('error', message, fields),
    enabled: isOn,
    addSecret(secret) {
      if (secret && !secrets.includes(secret)) secrets.push(secret);
    },
  };
}

/** A logger that prints nothing: for in-process tests. */
export const silentLogger: Logger = createLogger({ write: () => {} });
