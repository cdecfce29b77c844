/**
 * SPEC.md TEAM-C5: `npm run cluster` (scripts/cluster.js) starts three instances on the
 * machine's PostgreSQL and NATS, creating the database when it is missing, prints their
 * URLs and the tokens, and stops them all on Ctrl-C (SIGINT), exiting 0.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { TEST_NATS_URL, requireNats } from '../server/bus/testing/nats.ts';
import { databaseUrl, requirePostgres, TEST_POSTGRES_URL } from '../server/store/testing/postgres.ts';

const REPO = resolve(import.meta.dirname, '..');
const reachable = (await requirePostgres('the npm run cluster test')) && (await requireNats('the npm run cluster test'));
const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function sql(text: string, values: unknown[] = []) {
  const client = new pg.Client({ connectionString: TEST_POSTGRES_URL });
  await client.connect();
  try {
    return await client.query(text, values);
  } finally {
    await client.end();
  }
}

describe.skipIf(!reachable)('TEAM-C5: npm run cluster', () => {
  it('TEAM-C5: creates the missing database, starts three instances, prints their URLs and the tokens, and Ctrl-C stops them all', async () => {
    const name = `gh_test_${randomBytes(6).toString('hex')}`;
    cleanups.push(() => sql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-npm-cluster-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const env: NodeJS.ProcessEnv = {};
    for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('GATEHOUSE_')) env[key] = value;
    const proc = spawn(
      process.execPath,
      ['scripts/cluster.js', '--base-port', '0', '--store', databaseUrl(name), '--bus', TEST_NATS_URL, '--data-dir', dataDir],
      {
        cwd: REPO,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    cleanups.push(() => proc.kill('SIGKILL'));
    const exited = new Promise<{ code: number | null; signal: string | null }>((done) => proc.on('exit', (code, signal) => done({ code, signal })));
    let out = '';
    let err = '';
    proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
    await new Promise<void>((done, fail) => {
      const timer = setTimeout(() => fail(new Error(`no ready line within 30 s\n${out}\n${err}`)), 30_000);
      proc.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('Gatehouse cluster: ready.')) {
          clearTimeout(timer);
          done();
        }
      });
      void exited.then((info) => fail(new Error(`npm run cluster exited (${JSON.stringify(info)})\n${out}\n${err}`)));
    });
    expect(out).toContain(`created database ${name}`);
    const urls = [...out.matchAll(/^ {2}([ABC]) {2}(http:\/\/\S+)$/gm)].map((m) => new URL(m[2]!));
    expect(urls).toHaveLength(3);
    const owner = /owner token \(GATEHOUSE_TOKEN\): (\S+)/.exec(out)?.[1];
    const agent = /agent token \(GATEHOUSE_AGENT_TOKEN\): (\S+)/.exec(out)?.[1];
    expect(owner).toBeTruthy();
    expect(agent).toBeTruthy();
    expect(urls.every((u) => u.searchParams.get('token') === owner)).toBe(true);
    const ready = await Promise.all(
      urls.map(async (u) => (await (await fetch(`${u.origin}/readyz`, { headers: { authorization: `Bearer ${owner}` } })).json()) as { epoch: string }),
    );
    for (const r of ready) expect(r).toMatchObject({ status: 'ready', store: 'postgres', epoch: ready[0]!.epoch });
    // One instance's request is another's: the agent token is shared.
    const created = await fetch(`${urls[0]!.origin}/api/permission-requests`, {
      method: 'POST',
      headers: { authorization: `Bearer ${agent}`, 'content-type': 'application/json' },
      body: JSON.stringify({ toolName: 'Bash', input: { command: 'demo' } }),
    });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    const elsewhere = await fetch(`${urls[2]!.origin}/api/permission-requests/${id}`, { headers: { authorization: `Bearer ${owner}` } });
    expect(elsewhere.status).toBe(200);

    proc.kill('SIGINT');
    const info = await Promise.race([exited, new Promise<never>((_, fail) => setTimeout(() => fail(new Error('did not stop within 10 s')), 10_000))]);
    expect(info).toEqual({ code: 0, signal: null });
    // Every instance is gone: its port refuses.
    for (const u of urls) await expect(fetch(`${u.origin}/healthz`)).rejects.toThrow();
  }, 60_000);
});
