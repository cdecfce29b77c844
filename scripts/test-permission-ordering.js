#!/usr/bin/env node
/**
 * `node scripts/test-permission-ordering.js`: message ordering and exactly-once, checked
 * per client, against a real server (the feature spec's "Verify message ordering").
 *
 * Concurrent requests from several HTTP agents; every request is decided by one client,
 * every third raced by a second client with the opposite decision, every seventh also
 * cancelled by its agent (racing the decision), every eleventh left to time out; clients
 * are cut now and then and resume with since + epoch, re-sending unanswered decisions
 * with the same clientMsgId. Checked per client: seq strictly increasing by one,
 * permission-request before its outcome, exactly one outcome per request, the same
 * outcome the agent got; and exactly one accepted decision per resolved request.
 *
 * Plain JavaScript (Node 20 runs no .ts): it starts the server with tsx's loader.
 *   --requests N  --clients N  --agents N     size (QUICK=1: a small run)
 *   --inject-fault=drop-event|duplicate-event|reorder-events
 *                 one client injures its own input: the run must FAIL
 * Exit code 0 when every property holds, 1 when one breaks, 2 on bad arguments.
 */
import { parseArgs } from 'node:util';
import { CLIENT_FAULTS } from './lib/checkedClient.js';
import { report, runPermissions } from './lib/permissionRun.js';
import { spawnServer } from './lib/spawnServer.js';

const quick = process.env.QUICK === '1';
let values;
try {
  ({ values } = parseArgs({
    options: {
      requests: { type: 'string', default: quick ? '200' : '3000' },
      clients: { type: 'string', default: quick ? '5' : '10' },
      agents: { type: 'string', default: quick ? '5' : '10' },
      'inject-fault': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  }));
} catch (error) {
  console.error(
    `${error.message}\nUsage: node scripts/test-permission-ordering.js [--requests N] [--clients N] [--agents N] [--inject-fault=${CLIENT_FAULTS.join('|')}]`,
  );
  process.exit(2);
}
if (values.help) {
  console.log(
    `Usage: node scripts/test-permission-ordering.js [--requests N] [--clients N] [--agents N] [--inject-fault=${CLIENT_FAULTS.join('|')}]\nQUICK=1 runs a small version.`,
  );
  process.exit(0);
}
const int = (name) => {
  const v = Number(values[name]);
  if (!Number.isInteger(v) || v < 1) {
    console.error(`--${name}: expected a positive integer, got ${values[name]}`);
    process.exit(2);
  }
  return v;
};
const fault = values['inject-fault'];
if (fault !== undefined && !CLIENT_FAULTS.includes(fault)) {
  console.error(`--inject-fault: expected one of ${CLIENT_FAULTS.join(', ')}, got ${fault}`);
  process.exit(2);
}

const server = await spawnServer();
let code = 1;
try {
  const result = await runPermissions({
    baseUrl: server.baseUrl,
    token: server.token,
    wsUrl: (params) => server.wsUrl(params),
    requests: int('requests'),
    clients: int('clients'),
    agents: int('agents'),
    perAgent: 3,
    raceEvery: 3,
    cancelEvery: 7,
    timeoutEvery: 11,
    shortTimeoutMs: 150,
    reconnectEveryMs: quick ? 150 : 300,
    deadlineMs: quick ? 30_000 : 180_000,
    fault,
  });
  code = report(`Permission ordering${fault ? ` (fault injected: ${fault})` : ''}`, result);
} catch (error) {
  console.error(`FAIL: ${error?.stack ?? error}`);
  code = 1;
} finally {
  await server.stop();
}
process.exit(code);
