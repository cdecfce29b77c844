#!/usr/bin/env node
// A scripted stand-in for `codex app-server` (unit tests of codexChatAgent.ts): JSONL on
// stdio, Codex's framing. FAKE_SCRIPT picks what a turn does:
//   resolved  - asks a command approval, then clears it itself (serverRequest/resolved)
//   nodiff    - asks a file change approval for an item it never announced
//   offered   - asks a command approval whose availableDecisions lack "accept"
//   die       - asks a command approval, then exits
// Our answer to the ask is echoed back as an agentMessage `decision:<json>`.
import { createInterface } from 'node:readline';
const script = process.env.FAKE_SCRIPT;
const send = (message) => process.stdout.write(JSON.stringify(message) + '\n');
const threadId = 'thread-1';
const turnId = 'turn-1';
let ask;
createInterface({ input: process.stdin }).on('line', (line) => {
  const message = JSON.parse(line);
  if (message.method === 'initialize') return send({ id: message.id, result: { userAgent: 'fake' } });
  if (message.method === 'thread/start') return send({ id: message.id, result: { thread: { id: threadId } } });
  if (message.method === 'turn/start') {
    send({ id: message.id, result: { turn: { id: turnId, status: 'inProgress' } } });
    if (script === 'nodiff') {
      ask = 'ask-1';
      return send({ method: 'item/fileChange/requestApproval', id: ask, params: { threadId, turnId, itemId: 'never-seen', startedAtMs: 1 } });
    }
    send({
      method: 'item/started',
      params: { threadId, turnId, item: { type: 'commandExecution', id: 'call_1', command: 'touch x', cwd: process.cwd(), status: 'inProgress' } },
    });
    ask = 'ask-1';
    const availableDecisions = script === 'offered' ? ['acceptForSession', 'cancel'] : ['accept', 'cancel'];
    send({
      method: 'item/commandExecution/requestApproval',
      id: ask,
      params: { threadId, turnId, itemId: 'call_1', startedAtMs: 1, command: 'touch x', cwd: process.cwd(), reason: 'why', availableDecisions },
    });
    if (script === 'resolved') send({ method: 'serverRequest/resolved', params: { threadId, requestId: ask } });
    if (script === 'die') process.stdout.write('', () => process.exit(3));
    return;
  }
  if (message.id === ask && message.method === undefined) {
    send({
      method: 'item/completed',
      params: { threadId, turnId, item: { type: 'agentMessage', id: 'm1', text: `decision:${JSON.stringify(message.result ?? message.error)}` } },
    });
    send({ method: 'turn/completed', params: { threadId, turn: { id: turnId, status: 'completed' } } });
  }
});
