import { homedir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, isLoopbackHost, parseServeArgs, type Config } from './config.ts';

function parse(argv: string[], env: Record<string, string> = {}): Config {
  const result = parseServeArgs(argv, env);
  if (result.help) throw new Error('help');
  return result.config;
}

describe('config', () => {
  it('TEAM-16: --bus / GATEHOUSE_BUS takes nats://HOST:PORT, only with a PostgreSQL store', () => {
    const pg = 'postgres://gatehouse@db.internal:5432/gatehouse';
    expect(parse(['--store', pg, '--bus', 'nats://127.0.0.1:4222']).bus).toBe('nats://127.0.0.1:4222');
    expect(parse([], { GATEHOUSE_STORE: pg, GATEHOUSE_BUS: 'nats://bus.internal:4222' }).bus).toBe('nats://bus.internal:4222');
    expect(parse(['--store', pg]).bus).toBeUndefined();
    expect(() => parse(['--bus', 'nats://127.0.0.1:4222'])).toThrow(/--bus joins instances that share a PostgreSQL store: add --store postgres:/);
    expect(() => parse(['--store', pg, '--bus', 'redis://127.0.0.1:6379'])).toThrow(/--bus: expected nats:\/\/HOST:PORT, got a redis: URL/);
    expect(() => parse(['--store', pg], { GATEHOUSE_BUS: 'not a url' })).toThrow(ConfigError);
  });

  it('OPS-1: defaults are those of protocol-v1.md §1', () => {
    const config = parse([]);
    expect(config).toMatchObject({
      port: 3000,
      host: '127.0.0.1',
      dataDir: join(homedir(), '.gatehouse'),
      auth: true,
      requestTimeoutMs: 120_000,
      agent: undefined,
      inspect: undefined,
      maxFrameBytes: 1 << 20,
      pingIntervalMs: 30_000,
      history: { keepEvents: 10_000, keepMs: 86_400_000 },
    });
    expect(config.rateLimit).toBeGreaterThanOrEqual(1_000);
  });

  it('OPS-1: flags win over the environment, which wins over defaults', () => {
    const env = {
      GATEHOUSE_PORT: '4000',
      GATEHOUSE_HOST: '127.0.0.2',
      GATEHOUSE_DATA_DIR: '/tmp/a',
      GATEHOUSE_REQUEST_TIMEOUT_MS: '5000',
      GATEHOUSE_AGENT: 'demo',
    };
    expect(parse([], env)).toMatchObject({ port: 4000, host: '127.0.0.2', dataDir: '/tmp/a', requestTimeoutMs: 5000, agent: 'demo' });
    expect(parse(['--port', '0', '--data-dir', '/tmp/b', '--request-timeout', '100', '--agent', 'claude'], env)).toMatchObject({
      port: 0,
      dataDir: '/tmp/b',
      requestTimeoutMs: 100,
      agent: 'claude',
    });
  });

  it('OPS-1: bad values are refused with a message naming the flag or variable', () => {
    const cases: Array<[string[], Record<string, string>, RegExp]> = [
      [['--port', '70000'], {}, /--port/],
      [['--port', '1.5'], {}, /--port/],
      [[], { GATEHOUSE_PORT: 'x' }, /GATEHOUSE_PORT/],
      [['--request-timeout', '99'], {}, /--request-timeout/],
      [['--request-timeout', '86400001'], {}, /--request-timeout/],
      [['--agent', 'robot'], {}, /--agent/],
      [['--inspect', 'http://x'], {}, /--inspect/],
      [['--allowed-origins', 'not a url'], {}, /--allowed-origins/],
      [['--allowed-hosts', 'bad host!'], {}, /--allowed-hosts/],
      [['--rate-limit', '999'], {}, /--rate-limit/],
      [['--host', 'bad host'], {}, /--host/],
      [['--unknown'], {}, /unknown/i],
      [['stray'], {}, /stray|positional/i],
      [[], { GATEHOUSE_AUTH: 'maybe' }, /GATEHOUSE_AUTH/],
      [[], { GATEHOUSE_TOKEN: 'has space' }, /GATEHOUSE_TOKEN/],
      [[], { GATEHOUSE_FAULT: 'everywhere' }, /GATEHOUSE_FAULT/],
    ];
    for (const [argv, env, pattern] of cases) {
      expect(() => parse(argv, env), JSON.stringify([argv, env])).toThrow(ConfigError);
      expect(() => parse(argv, env)).toThrow(pattern);
    }
  });

  it('SEC-5: auth off is allowed on loopback only', () => {
    expect(parse(['--no-auth']).auth).toBe(false);
    expect(parse([], { GATEHOUSE_AUTH: 'off', GATEHOUSE_HOST: '::1' }).auth).toBe(false);
    expect(parse(['--no-auth', '--host', 'localhost']).auth).toBe(false);
    expect(() => parse(['--no-auth', '--host', '0.0.0.0'])).toThrow(/loopback/);
    expect(() => parse(['--host', '192.168.1.5'], { GATEHOUSE_AUTH: 'off' })).toThrow(/loopback/);
    expect(isLoopbackHost('127.1.2.3')).toBe(true);
    expect(isLoopbackHost('[::1]')).toBe(true);
    expect(isLoopbackHost('10.0.0.1')).toBe(false);
  });

  it('OPS-1: lists and the inspector URL are parsed', () => {
    const config = parse([
      '--allowed-origins',
      'https://a.example, http://b.example:8080/',
      '--allowed-hosts',
      'a.example,B.example:9',
      '--inspect',
      'ws://127.0.0.1:8080',
    ]);
    expect(config.allowedOrigins).toEqual(['https://a.example', 'http://b.example:8080']);
    expect(config.allowedHosts).toEqual(['a.example', 'b.example:9']);
    expect(config.inspect).toBe('ws://127.0.0.1:8080/');
    expect(parseServeArgs(['--help'], {})).toEqual({ help: true });
  });

  it('LIM-1 LIM-5: the limits flags: defaults, environment, flags, and bad values naming the flag', () => {
    expect(parse([]).limits).toEqual({ maxUnresolved: 10_000, maxUnresolvedBytes: 256 << 20, bodyTimeoutMs: 10_000 });
    const env = { GATEHOUSE_MAX_UNRESOLVED: '50', GATEHOUSE_MAX_UNRESOLVED_BYTES: '4096', GATEHOUSE_BODY_TIMEOUT_MS: '500' };
    expect(parse([], env).limits).toEqual({ maxUnresolved: 50, maxUnresolvedBytes: 4096, bodyTimeoutMs: 500 });
    expect(parse(['--max-unresolved', '7', '--max-unresolved-bytes', '2048', '--body-timeout-ms', '250'], env).limits).toEqual({
      maxUnresolved: 7,
      maxUnresolvedBytes: 2048,
      bodyTimeoutMs: 250,
    });
    const cases: Array<[string[], Record<string, string>, RegExp]> = [
      [['--max-unresolved', '0'], {}, /--max-unresolved/],
      [['--max-unresolved', 'many'], {}, /--max-unresolved/],
      [[], { GATEHOUSE_MAX_UNRESOLVED_BYTES: '-1' }, /GATEHOUSE_MAX_UNRESOLVED_BYTES/],
      [['--body-timeout-ms', '10'], {}, /--body-timeout-ms/],
    ];
    for (const [argv, e, pattern] of cases) expect(() => parse(argv, e), JSON.stringify([argv, e])).toThrow(pattern);
  });
});
