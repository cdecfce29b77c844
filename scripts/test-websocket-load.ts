/**
 * `npm run test:websocket-load`: many WebSocket clients and many concurrent requests
 * from many HTTP agents against a real server process; every request decided exactly
 * once, every client sees every event in order with no gap (checked per client from its
 * welcome); prints requests/s and latency p50/p99. Exit 1 when a property breaks.
 *
 *   --clients N (20)  --agents N (20)  --requests N (4000)  --in-flight N per agent (4)
 *   --race-every K     every K-th request is also decided by a second client (5)
 *   --deadline-ms MS   the whole run must finish within this (120000)
 *   --inject-fault=drop-event|duplicate-event|reorder-events
 *                      one checking client injures its own input: the run must FAIL
 *   QUICK=1            a small run (5 clients, 5 agents, 200 requests)
 *
 * The checks live in scripts/lib/permissionRun.js (shared with the ordering script).
 */
import { parseArgs } from 'node:util';
import { startServerProcess } from '../server/testing/index.ts';
import { CLIENT_FAULTS } from './lib/checkedClient.js';
import { report, runPermissions } from './lib/permissionRun.js';

const quick = process.env.QUICK === '1';
const usage = `Usage: npm run test:websocket-load -- [--clients N] [--agents N] [--requests N] [--in-flight N] [--race-every K] [--deadline-ms MS] [--inject-fault=${CLIENT_FAULTS.join('|')}]`;

function parse() {
  try {
    return parseArgs({
      options: {
        clients: { type: 'string', default: quick ? '5' : '20' },
        agents: { type: 'string', default: quick ? '5' : '20' },
        requests: { type: 'string', default: quick ? '200' : '4000' },
        'in-flight': { type: 'string', default: '4' },
        'race-every': { type: 'string', default: '5' },
        'deadline-ms': { type: 'string', default: quick ? '30000' : '120000' },
        'inject-fault': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (error) {
    console.error(`${(error as Error).message}\n${usage}`);
    process.exit(2);
  }
}

const values = parse();
if (values.help) {
  console.log(usage);
  process.exit(0);
}
const int = (name: keyof typeof values, min = 1) => {
  const v = Number(values[name]);
  if (!Number.isInteger(v) || v < min) {
    console.error(`--${name}: expected an integer >= ${min}, got ${String(values[name])}\n${usage}`);
    process.exit(2);
  }
  return v;
};
const fault = values['inject-fault'];
if (fault !== undefined && !CLIENT_FAULTS.includes(fault)) {
  console.error(`--inject-fault: expected one of ${CLIENT_FAULTS.join(', ')}, got ${fault}`);
  process.exit(2);
}

const server = await startServerProcess();
let code = 1;
try {
  const result = await runPermissions({
    baseUrl: server.baseUrl,
    token: server.token,
    wsUrl: (params) => server.wsUrl(params),
    clients: int('clients'),
    agents: int('agents'),
    requests: int('requests'),
    perAgent: int('in-flight'),
    raceEvery: int('race-every', 0),
    deadlineMs: int('deadline-ms'),
    ...(fault ? { fault } : {}),
  });
  code = report(`WebSocket load${fault ? ` (fault injected: ${fault})` : ''}`, result);
} catch (error) {
  console.error(`FAIL: ${(error as Error)?.stack ?? String(error)}`);
} finally {
  await server.stop();
}
process.exit(code);
