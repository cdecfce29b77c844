/**
 * One permission run against a live server, shared by `npm run test:websocket-load` and
 * `node scripts/test-permission-ordering.js`: HTTP agents create requests (with an
 * Idempotency-Key) and long-poll their outcomes, while WebSocket clients receive every
 * event, ack it, and decide; then every property is checked and figures are returned.
 *
 * Request n's designated decider is client n mod C; with `raceEvery`, every k-th request
 * also gets a second decider with the opposite decision, so the first-wins rule is
 * observable. With `cancelEvery` the agent also cancels (racing the decider); with
 * `timeoutEvery` nobody decides and the request times out. With `reconnectEveryMs` a
 * client is cut (no close frame) and resumes with `since` + `epoch`, re-sending its
 * unanswered decisions with the same clientMsgId.
 *
 * Properties (each failure is one line in `violations`):
 *   - per client: welcome first, gapless seq +1, request before outcome, one outcome each
 *     (StreamChecker), every created request seen once with the outcome the agent got;
 *   - exactly once: a resolved request has exactly one accepted decision, from the client
 *     named in decidedBy, with the decision the agent got; every other decision for it was
 *     refused with already-resolved carrying that decision; a timed-out or cancelled one
 *     has none accepted (expired / cancelled); every decision got exactly one answer
 *     (a re-sent clientMsgId gets the same answer);
 *   - no request doubled: one id per agent request, and no other requests in the stream.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { CheckedClient } from './checkedClient.js';
import { describeLatencies } from './streamCheck.js';

const now = () => performance.now();

/** A small seeded PRNG, so a failing cut order can be replayed with its seed. */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * @param {object} o
 * @param {string} o.baseUrl http://127.0.0.1:PORT
 * @param {string|undefined} o.token
 * @param {(params: Record<string, string|number|undefined>) => string} o.wsUrl
 */
export async function runPermissions(o) {
  const opts = {
    clients: 20,
    agents: 20,
    requests: 2000,
    perAgent: 4,
    raceEvery: 0,
    cancelEvery: 0,
    timeoutEvery: 0,
    shortTimeoutMs: 150,
    timeoutMs: 120_000,
    reconnectEveryMs: 0,
    deadlineMs: 120_000,
    fault: undefined,
    log: (line) => console.log(line),
    ...o,
  };
  const started = now();
  const deadline = started + opts.deadlineMs;
  const remaining = () => Math.max(1, deadline - now());
  const runId = randomUUID().slice(0, 8);
  const violations = [];
  const violation = (text) => violations.push(text);

  const kindOf = (n) => {
    if (opts.timeoutEvery && n % opts.timeoutEvery === opts.timeoutEvery - 1) return 'timeout';
    if (opts.cancelEvery && n % opts.cancelEvery === 1) return 'cancel';
    return 'decide';
  };
  /** [label index, decision] pairs for request n. */
  const decidersOf = (n) => {
    if (kindOf(n) === 'timeout') return [];
    const first = n % 2 === 0 ? 'allow' : 'deny';
    const list = [[n % opts.clients, first]];
    if (opts.raceEvery && opts.clients > 1 && n % opts.raceEvery === 0) list.push([(n + 1) % opts.clients, first === 'allow' ? 'deny' : 'allow']);
    return list;
  };

  const sentAt = new Map(); // n -> time the agent sent the create
  const idOfN = new Map(); // n -> request id
  const finals = new Map(); // request id -> {status, decision, decidedBy, n}
  const decisions = new Map(); // clientMsgId -> {requestId, label, decision, sentAt, answer, message}
  const firstDecisionAt = new Map(); // request id -> earliest decision send time
  const receiptMs = [];
  const createMs = [];
  const decisionToAgentMs = [];

  // ---- clients ------------------------------------------------------------------------
  const onFrame = (frame, client) => {
    switch (frame.type) {
      case 'permission-request': {
        const n = frame.input?.n;
        if (typeof n !== 'number') return; // not ours (should not happen on a fresh server)
        const t0 = sentAt.get(n);
        if (t0 !== undefined) receiptMs.push(now() - t0);
        for (const [index, decision] of decidersOf(n)) {
          if (client.index !== index) continue;
          const clientMsgId = randomUUID();
          const message = { type: 'permission-response', requestId: frame.id, decision, clientMsgId };
          const t = now();
          decisions.set(clientMsgId, { requestId: frame.id, label: client.label, decision, sentAt: t, answer: undefined, message, client });
          if (!firstDecisionAt.has(frame.id)) firstDecisionAt.set(frame.id, t);
          client.send(message);
        }
        return;
      }
      case 'ack':
      case 'error': {
        if (frame.ref === undefined) return;
        const d = decisions.get(frame.ref);
        if (!d) {
          violation(`${client.label}: an answer for an unknown clientMsgId ${frame.ref}`);
          return;
        }
        const answer = frame.type === 'ack' ? { status: 'accepted' } : { status: 'rejected', code: frame.code, decision: frame.decision };
        if (d.answer === undefined) d.answer = answer;
        else if (JSON.stringify(d.answer) !== JSON.stringify(answer)) {
          violation(`${client.label}: clientMsgId ${frame.ref} answered ${JSON.stringify(d.answer)}, then ${JSON.stringify(answer)}`);
        }
        return;
      }
      default:
        return;
    }
  };

  const clients = [];
  for (let i = 0; i < opts.clients; i++) {
    const client = new CheckedClient({
      label: `checker-${i}`,
      url: opts.wsUrl,
      onFrame,
      ...(opts.fault && i === 0 ? { fault: opts.fault, faultAfter: Math.min(20, Math.floor(opts.requests / 4)) } : {}),
    });
    client.index = i;
    clients.push(client);
  }
  await Promise.all(clients.map((c) => c.connect()));

  // Cut a client now and then; it resumes and re-sends what was not answered.
  const random = mulberry32(opts.seed ?? 1);
  let reconnects = 0;
  let reconnectTimer;
  let stopReconnects = false;
  if (opts.reconnectEveryMs > 0) {
    const cut = async () => {
      if (stopReconnects) return;
      // Client 0 may carry an injected fault; the others are cut in a seeded random order.
      const client = clients.length > 1 ? clients[1 + Math.floor(random() * (clients.length - 1))] : clients[0];
      reconnects += 1;
      client.terminate();
      try {
        await client.connect({ resume: true });
        if (!client.welcome.resumed) violation(`${client.label}: a resume with since=${client.checker.lastSeq} was not resumed`);
        for (const d of decisions.values()) if (d.client === client && d.answer === undefined) client.send(d.message);
      } catch (error) {
        violation(`${client.label}: could not resume: ${error.message}`);
      }
      if (!stopReconnects) reconnectTimer = setTimeout(cut, opts.reconnectEveryMs);
    };
    reconnectTimer = setTimeout(cut, opts.reconnectEveryMs);
  }

  // ---- agents -------------------------------------------------------------------------
  // node:http with keep-alive rather than fetch: on Node 20 fetch costs several times the
  // CPU per call, and this process must not be the bottleneck it measures.
  const agentPool = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  const base = new URL(opts.baseUrl);
  const headers = { 'content-type': 'application/json', ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}) };
  const once = (method, path, body, extra) =>
    new Promise((resolve, reject) => {
      const payload = body !== undefined ? JSON.stringify(body) : undefined;
      const req = http.request(
        {
          host: base.hostname,
          port: base.port,
          path,
          method,
          agent: agentPool,
          headers: { ...headers, ...extra, ...(payload ? { 'content-length': Buffer.byteLength(payload) } : {}) },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d) => (text += d));
          res.on('end', () => {
            try {
              resolve({ status: res.statusCode, body: text ? JSON.parse(text) : undefined });
            } catch (_error) {
              reject(new Error(`${method} ${path}: not JSON (${res.statusCode}): ${text.slice(0, 200)}`));
            }
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  const call = async (method, path, body, extra = {}) => {
    let lastError;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        return await once(method, path, body, extra);
      } catch (error) {
        lastError = error; // a network error: retry (the Idempotency-Key makes a create safe)
      }
    }
    throw lastError;
  };

  const lifecycle = async (agent, n) => {
    const kind = kindOf(n);
    const t0 = now();
    sentAt.set(n, t0);
    const created = await call(
      'POST',
      '/api/permission-requests',
      {
        toolName: 'Bash',
        input: { command: `echo ${n}`, n },
        context: { agent: `agent-${agent}`, sessionId: `run-${runId}-agent-${agent}`, description: `request ${n} (${kind})` },
        timeoutMs: kind === 'timeout' ? opts.shortTimeoutMs : opts.timeoutMs,
      },
      { 'idempotency-key': `run-${runId}-${n}` },
    );
    if (created.status !== 201) {
      violation(`agent-${agent}: create ${n} answered ${created.status} ${JSON.stringify(created.body)}`);
      return;
    }
    createMs.push(now() - t0);
    const id = created.body.id;
    idOfN.set(n, id);
    if (kind === 'cancel') {
      const res = await call('DELETE', `/api/permission-requests/${id}`);
      if (res.status !== 200 && res.status !== 409) violation(`agent-${agent}: cancel of ${id} answered ${res.status}`);
    }
    for (;;) {
      if (now() > deadline) throw new Error(`deadline passed while waiting for ${id}`);
      const wait = Math.max(1, Math.min(30, Math.floor(remaining() / 1000)));
      const res = await call('GET', `/api/permission-requests/${id}?wait=${wait}`);
      if (res.status !== 200) {
        violation(`agent-${agent}: read of ${id} answered ${res.status}`);
        return;
      }
      if (res.body.status === 'pending') continue;
      const t = now();
      const d0 = firstDecisionAt.get(id);
      if (res.body.status === 'resolved' && d0 !== undefined) decisionToAgentMs.push(Math.max(0, t - d0));
      finals.set(id, { status: res.body.status, decision: res.body.decision, decidedBy: res.body.decidedBy, n });
      return;
    }
  };

  const agentRuns = [];
  let _next = 0;
  for (let a = 0; a < opts.agents; a++) {
    // Each agent has its own share of n, `perAgent` in flight at a time.
    const mine = [];
    for (let n = a; n < opts.requests; n += opts.agents) mine.push(n);
    let cursor = 0;
    const worker = async () => {
      while (cursor < mine.length) {
        const n = mine[cursor++];
        _next += 1;
        await lifecycle(a, n);
      }
    };
    for (let w = 0; w < opts.perAgent; w++) agentRuns.push(worker());
  }
  const timeout = (what) =>
    new Promise((_, reject) => {
      const t = setTimeout(() => reject(new Error(`${what}: the run did not finish within ${opts.deadlineMs} ms`)), remaining());
      t.unref?.();
    });

  let agentsDoneAt = now();
  try {
    await Promise.race([Promise.all(agentRuns), timeout('agents')]);
    agentsDoneAt = now();
    stopReconnects = true;
    clearTimeout(reconnectTimer);
    // Every client must reach the head of the stream, and every decision be answered.
    const ready = await call('GET', '/readyz');
    const head = ready.body?.seq;
    if (typeof head !== 'number') throw new Error(`/readyz gave no seq: ${JSON.stringify(ready.body)}`);
    await Promise.all(clients.map((c) => c.until(() => c.checker.lastSeq >= head, remaining(), `seq ${head}`)));
    await Promise.all(
      clients.map((c) =>
        c.until(() => [...decisions.values()].every((d) => d.client !== c || d.answer !== undefined), remaining(), 'answers to all its decisions'),
      ),
    );
  } catch (error) {
    violation(String(error.message ?? error));
  } finally {
    stopReconnects = true;
    clearTimeout(reconnectTimer);
  }
  const elapsedMs = agentsDoneAt - started;

  // ---- checks ---------------------------------------------------------------------------
  const created = idOfN.size;
  if (created !== opts.requests) violation(`${created} of ${opts.requests} requests were created`);
  if (new Set(idOfN.values()).size !== created) violation('two agent requests got the same id');
  for (const client of clients) {
    client.checker.checkOutcomes(finals);
    if (client.checker.requests.size !== created) {
      violation(`${client.label}: saw ${client.checker.requests.size} distinct requests, ${created} were created`);
    }
    for (const e of client.errors) violation(`${client.label}: server error frame ${JSON.stringify(e)}`);
    violations.push(...client.checker.violations);
    if (client.checker.violationCount > client.checker.violations.length) {
      violations.push(`${client.label}: ${client.checker.violationCount - client.checker.violations.length} more stream violation(s)`);
    }
  }
  const byRequest = new Map();
  for (const d of decisions.values()) {
    if (!byRequest.has(d.requestId)) byRequest.set(d.requestId, []);
    byRequest.get(d.requestId).push(d);
    if (d.answer === undefined) violation(`decision ${d.requestId} by ${d.label} was never answered`);
  }
  const outcomeCounts = { resolved: 0, timedOut: 0, cancelled: 0, pending: 0 };
  let raced = 0;
  for (const [id, final] of finals) {
    outcomeCounts[final.status] = (outcomeCounts[final.status] ?? 0) + 1;
    const sent = byRequest.get(id) ?? [];
    if (sent.length > 1) raced += 1;
    const accepted = sent.filter((d) => d.answer?.status === 'accepted');
    const expectedCode = { resolved: 'already-resolved', timedOut: 'expired', cancelled: 'cancelled' }[final.status];
    if (final.status === 'resolved') {
      if (accepted.length !== 1) violation(`${id}: resolved, but ${accepted.length} decisions were accepted`);
      else {
        if (accepted[0].label !== final.decidedBy) violation(`${id}: accepted from ${accepted[0].label}, decidedBy says ${final.decidedBy}`);
        if (accepted[0].decision !== final.decision) violation(`${id}: accepted ${accepted[0].decision}, the agent was told ${final.decision}`);
      }
    } else if (accepted.length !== 0) {
      violation(`${id}: ${final.status}, yet ${accepted.length} decision(s) were accepted`);
    }
    for (const d of sent) {
      if (d.answer?.status !== 'rejected') continue;
      if (d.answer.code !== expectedCode) violation(`${id}: a refused decision got ${d.answer.code}, expected ${expectedCode} (${final.status})`);
      if (final.status === 'resolved' && d.answer.decision !== final.decision)
        violation(`${id}: already-resolved said ${d.answer.decision}, the winner was ${final.decision}`);
    }
  }
  if (finals.size !== created) violation(`${created - finals.size} request(s) never reached an outcome for their agent`);

  const framesIn = clients.reduce((sum, c) => sum + c.checker.sequencedCount, 0);
  for (const c of clients) c.close();
  agentPool.destroy();
  const figures = {
    requests: created,
    clients: opts.clients,
    agents: opts.agents,
    inFlight: opts.agents * opts.perAgent,
    elapsedMs: Math.round(elapsedMs),
    requestsPerSecond: created / (elapsedMs / 1000),
    eventsDeliveredPerSecond: framesIn / (elapsedMs / 1000),
    decisionsSent: decisions.size,
    racedRequests: raced,
    reconnects,
    outcomes: outcomeCounts,
    latency: {
      createToClient: describeLatencies(receiptMs),
      createTo201: describeLatencies(createMs),
      decisionToAgent: describeLatencies(decisionToAgentMs),
    },
  };
  return { ok: violations.length === 0, violations, figures };
}

/** Print figures and violations; returns the exit code. */
export function report(title, result, log = console.log) {
  const f = result.figures;
  log(`\n${title}`);
  log(`  requests            ${f.requests} from ${f.agents} HTTP agents (${f.inFlight} in flight), ${f.clients} WebSocket clients`);
  log(`  outcomes            resolved ${f.outcomes.resolved}, timedOut ${f.outcomes.timedOut}, cancelled ${f.outcomes.cancelled}`);
  log(
    `  decisions sent      ${f.decisionsSent} (${f.racedRequests} requests raced by two clients)${f.reconnects ? `, ${f.reconnects} client reconnects` : ''}`,
  );
  log(`  elapsed             ${(f.elapsedMs / 1000).toFixed(2)} s`);
  log(`  throughput          ${f.requestsPerSecond.toFixed(0)} request lifecycles/s, ${f.eventsDeliveredPerSecond.toFixed(0)} events delivered/s`);
  log(`  create -> client    ${f.latency.createToClient}`);
  log(`  create -> 201       ${f.latency.createTo201}`);
  log(`  decision -> agent   ${f.latency.decisionToAgent}`);
  if (result.ok) {
    log('  result              PASS: every request decided exactly once; every client saw every event, in order, no gap');
    return 0;
  }
  log(`  result              FAIL: ${result.violations.length} violation(s)`);
  for (const v of result.violations.slice(0, 25)) log(`    - ${v}`);
  if (result.violations.length > 25) log(`    ... and ${result.violations.length - 25} more`);
  return 1;
}
