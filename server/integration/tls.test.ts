/**
 * `--tls-cert/--tls-key` (docs/operations.md, "TLS"): the real server serves HTTPS and
 * WSS with a self-signed certificate made here by openssl (a throwaway key in a temporary
 * folder), the ready line and the pairing link say https, the device cookie is Secure,
 * and a missing file stops the start naming the flag.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseServeArgs, ConfigError, testConfig } from '../config.ts';
import { createLogger } from '../log.ts';
import { startServer, type RunningServer } from '../server.ts';
import { connectClient } from '../testing/index.ts';

let dir: string;
let cert: Buffer;
let server: RunningServer;

function makeCertificate(folder: string): { certFile: string; keyFile: string } {
  const certFile = join(folder, 'cert.pem');
  const keyFile = join(folder, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ],
    { stdio: 'ignore' },
  );
  return { certFile, keyFile };
}

/** A GET over HTTPS that trusts only the test's certificate. */
function get(
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port: server.port, path, ca: cert, method: path.startsWith('/api/pairings') ? 'POST' : 'GET', headers },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-tls-'));
  const tls = makeCertificate(dir);
  cert = readFileSync(tls.certFile);
  server = await startServer(testConfig({ dataDir: join(dir, 'data'), tls }), { logger: createLogger({}) });
});

afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('TLS', () => {
  it('HUM-5: with --tls-cert and --tls-key the server answers HTTPS, its ready line says https, and the page flow sets a Secure cookie', async () => {
    expect(server.readyLine).toMatch(/^Gatehouse listening on https:\/\/127\.0\.0\.1:\d+\/\?token=/);
    expect(server.baseUrl).toBe(`https://127.0.0.1:${server.port}`);
    const health = await get('/healthz');
    expect(health.status).toBe(200);
    const page = await get(`/?token=${encodeURIComponent(server.token!)}`);
    expect(page.status).toBe(302);
    const cookie = String(page.headers['set-cookie']);
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/Secure/i);
  });

  it('HUM-5: the pairing link is https, and the WebSocket is WSS (an https Origin of ours is allowed)', async () => {
    const made = await get('/api/pairings', { authorization: `Bearer ${server.token}` });
    expect(made.status, made.body).toBe(201);
    expect((JSON.parse(made.body) as { url: string }).url).toMatch(new RegExp(`^https://127\\.0\\.0\\.1:${server.port}/pair/`));
    const client = await connectClient(`wss://127.0.0.1:${server.port}/ws?token=${encodeURIComponent(server.token!)}`, {
      ca: cert,
      origin: `https://127.0.0.1:${server.port}`,
    });
    const welcome = await client.waitFor((f) => f.type === 'welcome');
    expect(welcome.clientId).toBeTruthy();
    await client.close();
    // A plain-http page of the same host is another origin now.
    await expect(
      connectClient(`wss://127.0.0.1:${server.port}/ws?token=${encodeURIComponent(server.token!)}`, { ca: cert, origin: `http://127.0.0.1:${server.port}` }),
    ).rejects.toMatchObject({ status: 403 });
  });

  it('HUM-5: --tls-cert needs --tls-key (and the reverse); a missing file stops the start naming the flag', async () => {
    expect(() => parseServeArgs(['--tls-cert', 'a.pem'], {})).toThrow(ConfigError);
    expect(() => parseServeArgs(['--tls-cert', 'a.pem'], {})).toThrow(/needs --tls-key/);
    expect(() => parseServeArgs([], { GATEHOUSE_TLS_KEY: 'k.pem' })).toThrow(/GATEHOUSE_TLS_KEY needs --tls-cert/);
    const parsed = parseServeArgs(['--tls-cert', '/x/c.pem', '--tls-key', '/x/k.pem'], {});
    expect(parsed.help === false && parsed.config.tls).toEqual({ certFile: '/x/c.pem', keyFile: '/x/k.pem' });
    await expect(
      startServer(testConfig({ dataDir: join(dir, 'data2'), tls: { certFile: join(dir, 'missing.pem'), keyFile: join(dir, 'key.pem') } }), {
        logger: createLogger({}),
      }),
    ).rejects.toThrow(/--tls-cert .*missing\.pem: no such file/);
  });
});
