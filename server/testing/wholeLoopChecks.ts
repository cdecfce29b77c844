/**
 * The whole loop's invariants (SPEC.md, "Whole loop (CORE-H)"), checked on a harness
 * once it is quiet: the server's stored log against what every browser held, every
 * answer the server gave (socket acks and errors, HTTP responses) and each browser's
 * queue. Each returns readable problems (empty: all hold), so a fuzz run can report
 * every broken rule of one run at once.
 */
import { canonicalJson, type PermissionRequestEvent, type SequencedEvent } from '../../protocol/index.ts';
import type { Harness, SimBrowser } from './harness.ts';

type Outcome = Extract<SequencedEvent, { type: 'permission-resolved' | 'permission-timeout' | 'permission-cancelled' }>;

export type LogIndex = {
  log: SequencedEvent[];
  head: number;
  bySeq: Map<number, SequencedEvent>;
  requests: Map<string, PermissionRequestEvent>;
  outcomes: Map<string, Outcome[]>;
};

const same = (a: unknown, b: unknown) => canonicalJson(a) === canonicalJson(b);

export function indexLog(log: SequencedEvent[]): { index: LogIndex; problems: string[] } {
  const problems: string[] = [];
  const bySeq = new Map<number, SequencedEvent>();
  const requests = new Map<string, PermissionRequestEvent>();
  const outcomes = new Map<string, Outcome[]>();
  log.forEach((event, i) => {
    if (event.seq !== i + 1) problems.push(`CORE-H1: the stored log is not gapless: position ${i + 1} holds seq ${event.seq}`);
    bySeq.set(event.seq, event);
    if (event.type === 'permission-request') {
      if (requests.has(event.id)) problems.push(`CORE-H2: request ${event.id} is in the log twice`);
      requests.set(event.id, event);
    } else if (event.type === 'permission-resolved' || event.type === 'permission-timeout' || event.type === 'permission-cancelled') {
      if (!requests.has(event.requestId)) problems.push(`CORE-H2: an outcome (#${event.seq}) before its request ${event.requestId}`);
      const list = outcomes.get(event.requestId) ?? [];
      list.push(event);
      outcomes.set(event.requestId, list);
    }
  });
  for (const [id, list] of outcomes) {
    if (list.length > 1) problems.push(`CORE-H2: request ${id} has ${list.length} outcomes: ${list.map((o) => `${o.type} #${o.seq}`).join(', ')}`);
  }
  return { index: { log, head: log.length, bySeq, requests, outcomes }, problems };
}

const outcomeOf = (index: LogIndex, id: string): Outcome | undefined => index.outcomes.get(id)?.[0];

/** Unresolved requests right after `seq` (what a snapshot at `seq` must list). */
function unresolvedAt(index: LogIndex, seq: number): string[] {
  const ids: string[] = [];
  for (const [id, request] of index.requests) {
    if (request.seq > seq) continue;
    const outcome = outcomeOf(index, id);
    if (!outcome || outcome.seq > seq) ids.push(id);
  }
  return ids.sort();
}

/** CORE-H1: what each browser held is the server's log, once each, gapless, in order. */
export function checkStreams(h: Harness, index: LogIndex): string[] {
  const problems: string[] = [];
  for (const browser of h.browsers) {
    const where = `CORE-H1 ${browser.name}`;
    let last: number | undefined;
    const held = new Set<number>();
    for (const record of browser.stream) {
      if (record.kind === 'snapshot') {
        if (last !== undefined && record.seq < last) problems.push(`${where}: a snapshot at #${record.seq} behind what it held (#${last})`);
        const listed = record.requests.map((r) => r.id).sort();
        const expected = unresolvedAt(index, record.seq);
        if (!same(listed, expected))
          problems.push(
            `${where}: the snapshot at #${record.seq} lists [${listed.map((id) => h.nameOf(id))}], the log says [${expected.map((id) => h.nameOf(id))}]`,
          );
        for (const request of record.requests) {
          const stored = index.requests.get(request.id);
          if (stored && !same(stored, request)) problems.push(`${where}: the snapshot's ${h.nameOf(request.id)} differs from the log's`);
        }
        last = record.seq;
        continue;
      }
      const { event } = record;
      if (last === undefined) problems.push(`${where}: held #${event.seq} before any snapshot`);
      else if (event.seq !== last + 1) problems.push(`${where}: held #${event.seq} right after #${last} (a gap or a step back)`);
      if (held.has(event.seq)) problems.push(`${where}: held #${event.seq} twice`);
      held.add(event.seq);
      const stored = index.bySeq.get(event.seq);
      if (!stored) problems.push(`${where}: held #${event.seq}, which the log does not have (lost by the server after it was sent)`);
      else if (!same(stored, event))
        problems.push(`${where}: #${event.seq} differs from the log: held ${canonicalJson(event)}, stored ${canonicalJson(stored)}`);
      last = event.seq;
    }
    if (browser.isLive && browser.snapshot.context.lastSeq !== index.head)
      problems.push(`${where}: live but holds up to #${browser.snapshot.context.lastSeq}, the head is #${index.head}`);
  }
  return problems;
}

function rejectionFits(code: string, outcome: Outcome | undefined, decision: string | undefined): boolean {
  switch (code) {
    case 'already-resolved':
      return outcome?.type === 'permission-resolved' && outcome.decision === decision;
    case 'expired':
      return outcome?.type === 'permission-timeout';
    case 'cancelled':
      return outcome?.type === 'permission-cancelled';
    default:
      return false;
  }
}

/** CORE-H3, CORE-H4: every acknowledged create and decision is in the log, and every
 *  answer matches the committed outcome; one accepted decision per request. */
export function checkAnswers(h: Harness, index: LogIndex): string[] {
  const problems: string[] = [];
  const senders = new Map<string, { browser: SimBrowser; frame: { requestId: string; decision: string; updatedInput?: unknown } }>();
  for (const browser of h.browsers) for (const [id, frame] of browser.sentDecisions) if (!senders.has(id)) senders.set(id, { browser, frame });

  // Socket answers: the same clientMsgId always gets the same answer, and it is the truth.
  const firstAnswer = new Map<string, string>();
  const acceptedBy = new Map<string, Set<string>>();
  for (const answer of h.wsAnswers) {
    const text = `${answer.requestId} ${answer.result} ${answer.decision ?? ''}`;
    const before = firstAnswer.get(answer.clientMsgId);
    if (before !== undefined && before !== text)
      problems.push(`CORE-H4: clientMsgId ${answer.clientMsgId} answered "${before}" once and "${text}" later (to ${answer.browser})`);
    firstAnswer.set(answer.clientMsgId, before ?? text);
    const sent = senders.get(answer.clientMsgId);
    const outcome = outcomeOf(index, answer.requestId);
    const label = `CORE-H4: ${answer.browser}'s ${sent?.frame.decision ?? '?'} of ${h.nameOf(answer.requestId)} (msg ${answer.clientMsgId.slice(0, 4)})`;
    if (!sent) {
      problems.push(`${label}: answered, but no browser sent it`);
      continue;
    }
    if (sent.frame.requestId !== answer.requestId) problems.push(`${label}: answered for another request than it named`);
    if (answer.result === 'accepted') {
      if (outcome?.type !== 'permission-resolved') {
        problems.push(`CORE-H3 ${label}: acknowledged, but the log's outcome is ${outcome ? outcome.type : 'none (lost)'}`);
        continue;
      }
      if (outcome.decision !== sent.frame.decision) problems.push(`CORE-H3 ${label}: acknowledged, but the log says ${outcome.decision}`);
      if (!same(outcome.updatedInput, sent.frame.updatedInput)) problems.push(`CORE-H3 ${label}: acknowledged, but the stored updatedInput differs`);
      if (!sent.browser.decidesAs(outcome.decidedBy)) problems.push(`CORE-H3 ${label}: acknowledged, but decidedBy is ${outcome.decidedBy}`);
      const set = acceptedBy.get(answer.requestId) ?? new Set<string>();
      set.add(`ws:${answer.clientMsgId}`);
      acceptedBy.set(answer.requestId, set);
    } else if (!rejectionFits(answer.result, outcome, answer.decision)) {
      problems.push(
        `CORE-H4 ${label}: answered ${answer.result}${answer.decision ? ` (${answer.decision})` : ''}, the log's outcome is ${outcome ? canonicalJson(outcome) : 'none'}`,
      );
    }
  }

  // HTTP: creates, decisions and cancels that were answered.
  const keys = new Map<string, { id: string; body: string }>();
  for (const call of h.calls) {
    if (call.status === undefined || call.status === 0 || call.status === 503) continue;
    const args = call.args as Record<string, any>;
    const label = `HTTP ${call.kind} #${call.id}`;
    if (call.kind === 'create') {
      const body = canonicalJson({ toolName: args.toolName, input: args.input, timeoutMs: args.timeoutMs });
      if (call.status === 201 || call.status === 200) {
        const id = call.body?.id as string;
        const stored = index.requests.get(id);
        if (!stored) problems.push(`CORE-H3 ${label}: answered ${call.status} with ${id}, which the log does not have`);
        else if (!same(stored.input, args.input) || stored.toolName !== args.toolName)
          problems.push(`CORE-H3 ${label}: the stored request differs from the one created`);
        else if (call.status === 201 && call.body?.seq !== stored.seq)
          problems.push(`CORE-H3 ${label}: answered seq ${call.body?.seq}, stored at #${stored.seq}`);
        if (args.idempotencyKey !== undefined) {
          const first = keys.get(args.idempotencyKey);
          if (!first) keys.set(args.idempotencyKey, { id, body });
          else if (first.id !== id) problems.push(`CORE-H3 ${label}: key ${args.idempotencyKey} gave ${h.nameOf(id)}, before ${h.nameOf(first.id)}`);
          else if (first.body !== body) problems.push(`CORE-H3 ${label}: key ${args.idempotencyKey} with another body was not refused`);
        }
      } else if (call.status === 409) {
        const first = args.idempotencyKey !== undefined ? keys.get(args.idempotencyKey) : undefined;
        if (first && first.body === body) problems.push(`CORE-H3 ${label}: the same body under key ${args.idempotencyKey} was refused 409`);
      } else {
        problems.push(`${label}: unexpected status ${call.status} ${canonicalJson(call.body)}`);
      }
    } else if (call.kind === 'decide') {
      const outcome = outcomeOf(index, args.requestId);
      if (call.status === 200) {
        if (outcome?.type !== 'permission-resolved' || outcome.decision !== args.decision || outcome.decidedBy !== 'http')
          problems.push(`CORE-H3 ${label}: ${args.decision} answered 200, the log's outcome is ${outcome ? canonicalJson(outcome) : 'none'}`);
        const set = acceptedBy.get(args.requestId) ?? new Set<string>();
        set.add(`http:${call.id}`);
        acceptedBy.set(args.requestId, set);
      } else if (call.status === 409) {
        if (!rejectionFits(call.body?.error?.code, outcome, call.body?.error?.decision))
          problems.push(`CORE-H4 ${label}: answered ${canonicalJson(call.body)}, the log's outcome is ${outcome ? canonicalJson(outcome) : 'none'}`);
      } else if (call.status === 404) {
        if (index.requests.has(args.requestId)) problems.push(`CORE-H4 ${label}: 404 for a request the log has`);
      } else {
        problems.push(`${label}: unexpected status ${call.status} ${canonicalJson(call.body)}`);
      }
    } else if (call.kind === 'cancel') {
      const outcome = outcomeOf(index, args.requestId);
      if (call.status === 200) {
        if (outcome?.type !== 'permission-cancelled')
          problems.push(`CORE-H3 ${label}: cancelled (200), the log's outcome is ${outcome ? outcome.type : 'none'}`);
      } else if (call.status === 409) {
        if (!outcome) problems.push(`CORE-H4 ${label}: 409 for a request with no outcome`);
      } else if (call.status === 404) {
        if (index.requests.has(args.requestId)) problems.push(`CORE-H4 ${label}: 404 for a request the log has`);
      } else {
        problems.push(`${label}: unexpected status ${call.status} ${canonicalJson(call.body)}`);
      }
    }
  }
  for (const [id, set] of acceptedBy) if (set.size > 1) problems.push(`CORE-H2: ${h.nameOf(id)} has ${set.size} accepted decisions: ${[...set].join(', ')}`);
  return problems;
}

const OUTCOME_WORD = { 'permission-timeout': 'timedOut', 'permission-cancelled': 'cancelled' } as const;

/** CORE-H5, CORE-H6: a healed browser's queue is the server's unresolved set; its outbox
 *  is empty, nothing says "confirming…" or "not seen", and every finished card tells
 *  the log's outcome (and "by you" only for its own decision). */
export function checkQueues(h: Harness, index: LogIndex, queue: { pending: number; processing: number }): string[] {
  const problems: string[] = [];
  const unresolved = unresolvedAt(index, index.head);
  let heldUpTo = 0;
  for (const browser of h.browsers) {
    const where = `${browser.name}`;
    if (!browser.isLive) {
      problems.push(`CORE-H5 ${where}: not live after healing (${browser.state})`);
      continue;
    }
    const context = browser.snapshot.context;
    heldUpTo = Math.max(heldUpTo, context.lastSeq);
    const cards = [...context.queue.order].sort();
    if (!same(cards, unresolved))
      problems.push(`CORE-H5 ${where}: holds [${cards.map((id) => h.nameOf(id))}], the server's unresolved are [${unresolved.map((id) => h.nameOf(id))}]`);
    for (const id of cards) {
      const card = context.queue.cards[id];
      const stored = index.requests.get(id);
      if (card && stored && !same(card.request, stored)) problems.push(`CORE-H5 ${where}: card ${h.nameOf(id)} differs from the log's request`);
      if (card && (card.phase.kind === 'sending' || card.phase.kind === 'queued'))
        problems.push(`CORE-H6 ${where}: card ${h.nameOf(id)} still ${card.phase.kind}`);
    }
    if (context.queue.counts.pending !== unresolved.length)
      problems.push(`CORE-H5 ${where}: counts say ${context.queue.counts.pending} pending, the server has ${unresolved.length}`);
    if (context.queue.outbox.length > 0)
      problems.push(
        `CORE-H6 ${where}: the outbox still holds ${context.queue.outbox.map((e) => `${e.frame.decision} of ${h.nameOf(e.requestId)} (sent ${e.sent})`).join(', ')}`,
      );
    for (const entry of context.queue.history) {
      const outcome = outcomeOf(index, entry.requestId);
      const name = h.nameOf(entry.requestId);
      if (entry.decider === 'unconfirmed') problems.push(`CORE-H6 ${where}: ${name} still reads "(confirming…)"`);
      if (entry.decider === 'unknown') problems.push(`CORE-H6 ${where}: ${name} still reads "outcome not seen"`);
      if (!outcome) {
        problems.push(`CORE-H5 ${where}: ${name} is in the history but has no outcome in the log`);
        continue;
      }
      const word = outcome.type === 'permission-resolved' ? (outcome.decision === 'allow' ? 'allowed' : 'denied') : OUTCOME_WORD[outcome.type];
      if (entry.decider !== 'unknown' && entry.outcome !== word) problems.push(`CORE-H5 ${where}: ${name} reads ${entry.outcome}, the log says ${word}`);
      const ours = outcome.type === 'permission-resolved' && browser.decidesAs(outcome.decidedBy);
      if (entry.decider === 'this-window' && !ours)
        problems.push(`CORE-H5 ${where}: ${name} reads "by you", but ${outcome.type === 'permission-resolved' ? outcome.decidedBy : 'nobody'} decided it`);
      if (ours && entry.decider !== 'this-window') problems.push(`CORE-H5 ${where}: ${name} was decided by this window but reads ${entry.decider}`);
    }
  }
  if (queue.pending !== unresolved.length) problems.push(`CORE-H5: the server counts ${queue.pending} pending, its log ${unresolved.length}`);
  // What the screens hold, as the server's `processing` (and the push escalation) sees it.
  const held = unresolved.filter((id) => (index.requests.get(id)?.seq ?? Number.POSITIVE_INFINITY) <= heldUpTo).length;
  if (queue.processing !== held) problems.push(`CORE-H5: the server counts ${queue.processing} processing, the live screens hold ${held}`);
  return problems;
}
