#!/usr/bin/env node
// `npm test`: every suite, in the order that fails fastest: lint and format (Biome), types,
// unit and integration (vitest), the web build, end-to-end journeys in Debian's Chromium
// (Playwright). Each suite's time is printed, and a summary of them at the end.
// Installs Chromium when it is missing and we are root (CI); otherwise says how.
// Ends with one plain line, `Tests: N passed, N failed`, summed over the runners.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { teamServices } from './lib/teamServices.js';

const CHROMIUM = process.env.GATEHOUSE_CHROMIUM ?? '/usr/bin/chromium';
const bin = (name) => join(process.cwd(), 'node_modules', '.bin', name);
const reports = mkdtempSync(join(tmpdir(), 'gatehouse-test-'));

const timings = [];

function run(title, command, args, env = {}) {
  console.log(`\n== ${title}: ${command} ${args.join(' ')}`);
  const started = Date.now();
  const result = spawnSync(command, args, { stdio: 'inherit', env: { ...process.env, ...env } });
  if (result.error) console.error(result.error.message);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  timings.push(`${title}: ${seconds} s${result.status === 0 ? '' : ' (failed)'}`);
  console.log(`== ${title}: ${seconds} s`);
  return result.status === 0;
}

function ensureChromium() {
  if (existsSync(CHROMIUM)) return true;
  if (typeof process.getuid === 'function' && process.getuid() === 0) {
    console.log(`Chromium is missing at ${CHROMIUM}: installing Debian's package (apt-get install chromium).`);
    return (
      run('apt-get update', 'apt-get', ['update', '-qq']) &&
      run('install chromium', 'apt-get', ['install', '-y', '-qq', 'chromium'], { DEBIAN_FRONTEND: 'noninteractive' }) &&
      existsSync(CHROMIUM)
    );
  }
  console.error(
    `Chromium is missing at ${CHROMIUM}. Install Debian's package as root:\n` +
      `  sudo apt-get update && sudo apt-get install -y chromium\n` +
      `or point GATEHOUSE_CHROMIUM at a Chromium binary.`,
  );
  return false;
}

function countVitest(file) {
  try {
    const r = JSON.parse(readFileSync(file, 'utf8'));
    return { passed: r.numPassedTests ?? 0, failed: (r.numFailedTests ?? 0) + (r.numRuntimeErrorTestSuites ?? 0) };
  } catch {
    return { passed: 0, failed: 1 };
  }
}

function countPlaywright(file) {
  try {
    const r = JSON.parse(readFileSync(file, 'utf8'));
    const s = r.stats ?? {};
    return { passed: (s.expected ?? 0) + (s.flaky ?? 0), failed: (s.unexpected ?? 0) + (r.errors?.length ?? 0) };
  } catch {
    return { passed: 0, failed: 1 };
  }
}

let ok = ensureChromium();
const totals = { passed: 0, failed: 0 };
const add = (c) => {
  totals.passed += c.passed;
  totals.failed += c.failed;
};

if (ok) ok = run('lint and format', bin('biome'), ['ci', '--error-on-warnings', '.']) && ok;
// One program per place the code runs (docs/testing.md): node, the browser, Playwright's journeys.
for (const project of ['tsconfig.node.json', 'tsconfig.web.json', 'tsconfig.e2e.json']) {
  if (ok) ok = run(`types (${project})`, bin('tsc'), ['--noEmit', '-p', project]) && ok;
}
// The commands (serve, hook, mcp, setup, acp) run from JavaScript built ahead; build them from these sources.
ok = run('command-line bundle', process.execPath, ['scripts/build-cli.js']) && ok;

// The cluster suite (three serve processes on PostgreSQL and NATS, SPEC.md TEAM-C) runs as
// a step of its own, so its time shows and one line says whether the services are there.
const CLUSTER_SUITE = 'server/integration/cluster.test.ts';
const vitestJson = join(reports, 'vitest.json');
const vitestOk = run('unit and integration', bin('vitest'), [
  'run',
  '--exclude',
  CLUSTER_SUITE,
  '--reporter=default',
  '--reporter=json',
  `--outputFile.json=${vitestJson}`,
]);
add(countVitest(vitestJson));
ok = vitestOk && ok;

const services = await teamServices('cluster suite (3 instances on PostgreSQL and NATS)');
console.log(`\n== ${services.line}`);
if (services.run) {
  const clusterJson = join(reports, 'cluster.json');
  const clusterOk = run('cluster', bin('vitest'), ['run', CLUSTER_SUITE, '--reporter=default', '--reporter=json', `--outputFile.json=${clusterJson}`]);
  add(countVitest(clusterJson));
  ok = clusterOk && ok;
} else {
  timings.push(`cluster: ${services.fail ? 'failed' : 'skipped'} (PostgreSQL or NATS not reachable)`);
  if (services.fail) {
    add({ passed: 0, failed: 1 });
    ok = false;
  }
}

const buildOk = run('web build', bin('vite'), ['build', '--logLevel', 'warn']);
ok = buildOk && ok;

if (buildOk && existsSync(CHROMIUM)) {
  const pwJson = join(reports, 'playwright.json');
  const e2eOk = run('end-to-end (Chromium)', bin('playwright'), ['test', '--reporter=list,json'], {
    PLAYWRIGHT_JSON_OUTPUT_NAME: pwJson,
  });
  add(countPlaywright(pwJson));
  ok = e2eOk && ok;
} else {
  ok = false;
}

if (!ok && totals.failed === 0) totals.failed = 1; // a failed step that ran no test still fails
console.log(`\nSuite times:\n  ${timings.join('\n  ')}`);
console.log(`\nTests: ${totals.passed} passed, ${totals.failed} failed`);
process.exit(ok ? 0 : 1);
