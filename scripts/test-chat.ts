/**
 * `npm run test:chat`: the chat still works with permissions in the same stream (the
 * feature spec's "no regressions in chat functionality"), against a real server process
 * with `--agent demo`:
 *   1. a prompt gets its messages in order: the prompt, the demo's text, then per tool call
 *      tool-use -> permission-request -> tool-result, then the summary and turn-end;
 *   2. each permission request shows inline: its context names the session and the
 *      tool-use's toolUseId, and the tool-result carries its requestId; each decision
 *      reaches the agent (a deny's message and an allow's edited input show in the results);
 *   3. a client that drops mid-turn (no close frame, while a request waits) resumes with
 *      since + epoch and gets every message it missed, none twice (seq gapless, message ids
 *      unique); what it misses is made by the check itself (the waiting request is allowed
 *      over HTTP while the client is away), so it never depends on the agent's timing;
 *   4. history survives a restart (kill -9, then serve on the same data directory):
 *      GET /api/sessions/ID/messages is unchanged and matches what the client received.
 * Exit 1 when one breaks.
 *   --inject-fault=drop-event|duplicate-event|reorder-events   the checking client injures
 *              its own input after a few events: the run must FAIL
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startServerProcess, type ServerProcess } from '../server/testing/index.ts';
import { CheckedClient, CLIENT_FAULTS } from './lib/checkedClient.js';

const usage = `Usage: npm run test:chat -- [--inject-fault=${CLIENT_FAULTS.join('|')}]`;
let fault: string | undefined;
try {
  const { values } = parseArgs({ options: { 'inject-fault': { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  fault = values['inject-fault'];
} catch (error) {
  console.error(`${(error as Error).message}\n${usage}`);
  process.exit(2);
}
if (fault !== undefined && !CLIENT_FAULTS.includes(fault)) {
  console.error(`--inject-fault: expected one of ${CLIENT_FAULTS.join(', ')}, got ${fault}`);
  process.exit(2);
}

type Frame = Record<string, any> & { type: string };
const WAIT_MS = 15_000;
const violations: string[] = [];
const check = (ok: boolean, text: string) => {
  if (!ok) violations.push(text);
  return ok;
};

const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-chat-'));
const env = { GATEHOUSE_TOKEN: `chat-check-${process.pid}-0123456789abcdef` };
const args = ['--agent', 'demo', '--request-timeout', '60000'];
let server: ServerProcess = await startServerProcess({ dataDir, env, args });

const frames: Frame[] = [];
const client = new CheckedClient({
  label: 'chat-checker',
  url: (params) => server.wsUrl(params),
  onFrame: (frame: Frame) => frames.push(frame),
  ...(fault ? { fault, faultAfter: 3 } : {}),
});

// A second client that stays connected through the drop (and is checked too).
const watched: Frame[] = [];
const watcher = new CheckedClient({ label: 'chat-watcher', url: (params) => server.wsUrl(params), onFrame: (frame: Frame) => watched.push(frame) });

const chatOf = (sessionId: string) => frames.filter((f) => f.type === 'chat-message' && f.sessionId === sessionId);
const requestFor = (sessionId: string, toolUseId: string) =>
  frames.find((f) => f.type === 'permission-request' && f.context?.sessionId === sessionId && f.context?.toolUseId === toolUseId);

async function toolUse(sessionId: string, index: number): Promise<{ use: Frame; request: Frame }> {
  await client.until(() => chatOf(sessionId).filter((f) => f.message.kind === 'tool-use').length > index, WAIT_MS, `tool-use #${index + 1}`);
  const use = chatOf(sessionId).filter((f) => f.message.kind === 'tool-use')[index];
  if (!use) throw new Error(`tool-use #${index + 1} went missing`); // counted above
  await client.until(() => requestFor(sessionId, use.message.toolUseId) !== undefined, WAIT_MS, `the permission request of tool-use #${index + 1}`);
  return { use, request: requestFor(sessionId, use.message.toolUseId)! };
}

async function decide(request: Frame, decision: 'allow' | 'deny', extra: Record<string, unknown> = {}) {
  const clientMsgId = crypto.randomUUID();
  client.send({ type: 'permission-response', requestId: request.id, decision, clientMsgId, ...extra });
  await client.until(
    () => frames.some((f) => (f.type === 'ack' || f.type === 'error') && f.ref === clientMsgId),
    WAIT_MS,
    `the answer to ${decision} ${request.toolName}`,
  );
  const answer = frames.find((f) => (f.type === 'ack' || f.type === 'error') && f.ref === clientMsgId)!;
  check(answer.type === 'ack', `${decision} of ${request.id} answered ${JSON.stringify(answer)}`);
}

let code = 1;
const started = performance.now();
let resumeEvents = 0;
let historyCount = 0;
try {
  await client.connect();
  await watcher.connect();
  const res = await server.api('/api/sessions', { method: 'POST', json: { prompt: 'Show me what you can do' } });
  if (res.status !== 201) throw new Error(`POST /api/sessions answered ${res.status} ${res.text}`);
  const sessionId: string = res.body.session.id;
  check(res.body.session.agent === 'demo', `the session's agent is ${res.body.session.agent}, not demo`);

  // Tool call 1 (Bash ls): allow. Tool call 2 (Write): deny with a reason.
  const first = await toolUse(sessionId, 0);
  await decide(first.request, 'allow');
  const second = await toolUse(sessionId, 1);
  const reason = `denied by the chat check ${process.pid}`;
  await decide(second.request, 'deny', { message: reason });
  // Tool call 3 (Edit): the client holds its request (the agent now waits for a decision,
  // so the session is quiet); drop the connection there, mid-turn, without a close frame.
  const third = await toolUse(sessionId, 2);
  const heldBeforeDrop = client.checker.lastSeq;
  client.terminate();
  await client.until(() => client.closedInfo !== undefined, WAIT_MS, 'the socket to close');
  // While away, the test (not the agent's timing) makes things happen: the Edit is allowed
  // over HTTP, so its outcome, the Edit's result, the 4th tool-use and its request all come
  // after the drop (seen by a second client that stays connected).
  const allowed = await server.api(`/api/permission-requests/${third.request.id}/decision`, { method: 'POST', json: { decision: 'allow' } });
  check(allowed.status === 200, `the HTTP allow of ${third.request.id} answered ${allowed.status} ${allowed.text}`);
  await watcher.until(
    () => watched.filter((f) => f.type === 'permission-request' && f.context?.sessionId === sessionId).length >= 4,
    WAIT_MS,
    'the 4th request while the client is away',
  );
  const welcome = await client.connect({ resume: true });
  check(welcome.resumed === true, `the resume with since=${heldBeforeDrop} was not resumed (${JSON.stringify(welcome)})`);
  // The replayed events follow the welcome: count them once the client holds the head.
  await client.until(() => client.checker.lastSeq >= welcome.seq, WAIT_MS, 'the replay up to the head');
  resumeEvents = frames.filter((f) => typeof f.seq === 'number' && f.seq > heldBeforeDrop && f.type !== 'welcome').length;
  // Tool call 4 (Bash): allow with an edited command: the agent must run the edit.
  const fourth = await toolUse(sessionId, 3);
  const marker = `edited-by-chat-check-${process.pid}`;
  await decide(fourth.request, 'allow', { updatedInput: { ...fourth.request.input, command: `echo ${marker}` } });
  await client.until(() => chatOf(sessionId).some((f) => f.message.kind === 'turn-end'), WAIT_MS, 'turn-end');
  await client.until(
    () =>
      frames.some(
        (f) => f.type === 'session-updated' && f.session.id === sessionId && f.session.status === 'idle' && f.seq > (chatOf(sessionId).at(-1)?.seq ?? 0),
      ),
    WAIT_MS,
    'the session to be idle',
  );

  // 1. The messages of the turn, in order.
  const chat = chatOf(sessionId);
  const shape = chat.map((f) => `${f.message.role}:${f.message.kind}`);
  const expected = [
    'user:text',
    'assistant:text',
    ...Array.from({ length: 4 }, () => ['assistant:tool-use', 'user:tool-result']).flat(),
    'assistant:text',
    'system:turn-end',
  ];
  check(JSON.stringify(shape) === JSON.stringify(expected), `the turn's messages came as ${shape.join(', ')}; expected ${expected.join(', ')}`);
  check(chat[0]?.message.text === 'Show me what you can do', 'the first message is not the prompt');
  check(new Set(chat.map((f) => f.message.id)).size === chat.length, 'a chat message was received twice');
  for (let i = 1; i < chat.length; i++) check(chat[i]!.seq > chat[i - 1]!.seq, `chat messages out of seq order at ${i}`); // 0 < i < length

  // 2. Each permission request inline: after its tool-use, before its result; the result names it.
  const uses = chat.filter((f) => f.message.kind === 'tool-use');
  for (const use of uses) {
    const request = requestFor(sessionId, use.message.toolUseId);
    if (!check(request !== undefined, `no permission-request for tool-use ${use.message.toolUseId}`)) continue;
    const result = chat.find((f) => f.message.kind === 'tool-result' && f.message.toolUseId === use.message.toolUseId);
    if (!check(result !== undefined, `no tool-result for ${use.message.toolUseId}`)) continue;
    check(request!.toolName === use.message.toolName, `request ${request!.id} is for ${request!.toolName}, the tool-use for ${use.message.toolName}`);
    check(
      use.seq < request!.seq && request!.seq < result!.seq,
      `${use.message.toolName}: tool-use ${use.seq}, request ${request!.seq}, result ${result!.seq} are not in that order`,
    );
    check(
      result!.message.requestId === request!.id,
      `the tool-result of ${use.message.toolUseId} names request ${result!.message.requestId}, not ${request!.id}`,
    );
    const outcome = frames.find((f) => f.type === 'permission-resolved' && f.requestId === request!.id);
    check(outcome !== undefined && outcome.seq < result!.seq, `the decision of ${request!.id} did not come before its tool-result`);
  }
  const resultOf = (i: number) => chat.find((f) => f.message.kind === 'tool-result' && f.message.toolUseId === uses[i]?.message.toolUseId)?.message;
  check(resultOf(0)?.isError !== true, `the allowed ls failed: ${resultOf(0)?.text}`);
  check(resultOf(1)?.isError === true && String(resultOf(1)?.text).includes(reason), `the deny's reason did not reach the agent: ${resultOf(1)?.text}`);
  check(String(resultOf(3)?.text).includes(marker), `the edited command did not reach the agent: ${resultOf(3)?.text}`);

  // 3. The resume: the checker saw a gapless stream across both connections.
  check(client.checker.connections === 2, `the client connected ${client.checker.connections} times`);
  check(resumeEvents > 0, 'nothing happened while the client was away (the drop proved nothing)');

  // 4. History: matches what the client received, and survives kill -9 + restart.
  const history = async () => (await server.api(`/api/sessions/${sessionId}/messages`)).body;
  const before = await history();
  historyCount = before.messages.length;
  const summary = (list: Array<{ seq?: number; message: { id: string } }>) => list.map((m) => `${m.seq}:${m.message.id}`).join(',');
  check(summary(before.messages) === chat.map((f) => `${f.seq}:${f.message.id}`).join(','), 'the stored history differs from the messages the client received');
  const killed = await server.kill('SIGKILL');
  check(killed.signal === 'SIGKILL', `the server did not die by SIGKILL (${JSON.stringify(killed)})`);
  client.terminate();
  watcher.close();
  server = await startServerProcess({ dataDir, env, args });
  const after = await history();
  check(summary(after.messages) === summary(before.messages), 'the history changed across the restart');
  check(after.session?.id === sessionId, 'the session is gone after the restart');
  const again = await client.connect({ resume: true });
  check(again.resumed === true, 'after the restart the client could not resume with since + epoch');

  violations.push(...client.checker.violations, ...watcher.checker.violations);
  const seconds = (performance.now() - started) / 1000;
  console.log(`\nChat with the demo agent${fault ? ` (fault injected: ${fault})` : ''}`);
  console.log(
    `  turn                ${chat.length} chat messages, 4 permission requests (allow, deny with reason, allow over HTTP while away, allow with edited input)`,
  );
  console.log(`  drop mid-turn       resumed with since=${heldBeforeDrop}: ${resumeEvents} event(s) received after the resume point`);
  console.log(`  history             ${historyCount} messages, unchanged across kill -9 and restart`);
  console.log(`  elapsed             ${seconds.toFixed(2)} s`);
  if (violations.length === 0) {
    console.log('  result              PASS');
    code = 0;
  } else {
    console.log(`  result              FAIL: ${violations.length} violation(s)`);
    for (const v of violations.slice(0, 25)) console.log(`    - ${v}`);
  }
} catch (error) {
  violations.push(...client.checker.violations);
  console.log(`\nChat with the demo agent${fault ? ` (fault injected: ${fault})` : ''}\n  result              FAIL: ${(error as Error).message}`);
  for (const v of violations.slice(0, 25)) console.log(`    - ${v}`);
} finally {
  client.close();
  watcher.close();
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
process.exit(code);
