import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { redact } from '../log.ts';
import { buildAllowList, isHostAllowed, isOriginAllowed } from './allowList.ts';
import { loadOrCreateToken, sessionCookieName, tokensEqual } from './token.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('token', () => {
  it('SEC-6: generated once with at least 128 bits, mode 0600, then reused; GATEHOUSE_TOKEN wins', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-token-'));
    dirs.push(dir);
    const first = loadOrCreateToken(dir, undefined);
    expect(first.source).toBe('generated');
    expect(Buffer.from(first.token, 'base64url').length).toBeGreaterThanOrEqual(16);
    expect(statSync(join(dir, 'token')).mode & 0o777).toBe(0o600);
    expect(loadOrCreateToken(dir, undefined)).toEqual({ token: first.token, source: 'file', warning: undefined });
    expect(loadOrCreateToken(dir, 'from-env')).toEqual({ token: 'from-env', source: 'env' });
  });

  it('SEC-6: a token file readable by others is tightened to 0600 with a warning; a corrupt one is refused', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-token-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'token'), 'abcdefghijklmnopqrstuvwxyz\n', { mode: 0o644 });
    const loaded = loadOrCreateToken(dir, undefined);
    expect(loaded.token).toBe('abcdefghijklmnopqrstuvwxyz');
    expect(loaded.warning).toMatch(/600/);
    expect(statSync(join(dir, 'token')).mode & 0o777).toBe(0o600);
    writeFileSync(join(dir, 'token'), 'short');
    expect(() => loadOrCreateToken(dir, undefined)).toThrow(/valid token/);
    expect(readFileSync(join(dir, 'token'), 'utf8')).toBe('short');
  });

  it('TEAM-G2: the session cookie is named by the port alone, or with a bus by the cluster (one name on every port, another for another store)', () => {
    expect(sessionCookieName({ port: 3000 })).toBe('gatehouse_3000');
    expect(sessionCookieName({ port: 3001 })).not.toBe(sessionCookieName({ port: 3000 }));
    const epoch = '0123456789abcdef';
    expect(sessionCookieName({ port: 3001, cluster: epoch })).toBe(sessionCookieName({ port: 3002, cluster: epoch }));
    expect(sessionCookieName({ port: 3001, cluster: epoch })).not.toBe(sessionCookieName({ port: 3001, cluster: 'fedcba9876543210' }));
    expect(sessionCookieName({ port: 3001, cluster: epoch })).not.toBe(sessionCookieName({ port: 3001 }));
    // Any epoch gives a name of cookie token characters (RFC 6265).
    expect(sessionCookieName({ port: 1, cluster: 'a test; epoch=1' })).toMatch(/^gatehouse_e[0-9a-f]{16}$/);
  });

  it('SEC-7: comparison is by equal-length digests (any lengths)', () => {
    expect(tokensEqual('secret-token', 'secret-token')).toBe(true);
    expect(tokensEqual('secret-token', 'secret-tokem')).toBe(false);
    expect(tokensEqual('', 'secret-token')).toBe(false);
    expect(tokensEqual('x'.repeat(10_000), 'secret-token')).toBe(false);
  });

  it('SEC-8: log lines redact token parameters, bearer headers, session cookies and known secrets', () => {
    const secret = 'SuperSecretToken123';
    const line = `GET /ws?since=1&token=${secret} authorization: Bearer ${secret} cookie: gatehouse_3000=abc; gatehouse_e0123456789abcdef=def; other ${secret}`;
    const out = redact(line, [secret]);
    expect(out).not.toContain(secret);
    expect(out).not.toContain('gatehouse_3000=abc');
    // A cluster's cookie too (TEAM-G2).
    expect(out).not.toContain('=def');
    expect(out).toContain('since=1');
  });
});

describe('allow lists', () => {
  it('SEC-3 SEC-4: the own names with the real port are allowed, others are not', () => {
    const list = buildAllowList({ bindHost: '127.0.0.1', port: 3000, extraOrigins: [], extraHosts: [] });
    for (const host of ['localhost:3000', '127.0.0.1:3000', '[::1]:3000', 'LOCALHOST:3000']) expect(isHostAllowed(list, host)).toBe(true);
    for (const host of ['localhost:3001', 'evil.example:3000', 'localhost', undefined]) expect(isHostAllowed(list, host)).toBe(false);
    for (const origin of ['http://localhost:3000', 'http://127.0.0.1:3000', 'http://[::1]:3000', undefined]) expect(isOriginAllowed(list, origin)).toBe(true);
    for (const origin of ['http://localhost:3001', 'https://localhost:3000', 'null', 'http://evil.example']) expect(isOriginAllowed(list, origin)).toBe(false);
    expect(list.publicHost).toBe('127.0.0.1');
  });

  it('SEC-9: a wildcard bind allows the machine addresses and names a LAN address for the ready line', () => {
    const list = buildAllowList({
      bindHost: '0.0.0.0',
      port: 8080,
      extraOrigins: ['https://proxy.example'],
      extraHosts: ['proxy.example'],
      interfaceAddresses: ['127.0.0.1', '192.168.1.20', 'fd00::2'],
      hostName: 'devbox',
    });
    expect(list.publicHost).toBe('192.168.1.20');
    for (const host of ['192.168.1.20:8080', '[fd00::2]:8080', 'devbox:8080', 'devbox.local:8080', 'proxy.example', 'proxy.example:8080'])
      expect(isHostAllowed(list, host)).toBe(true);
    expect(isHostAllowed(list, '0.0.0.0:8080')).toBe(false);
    expect(isOriginAllowed(list, 'http://192.168.1.20:8080')).toBe(true);
    expect(isOriginAllowed(list, 'https://proxy.example')).toBe(true);
  });
});
