/**
 * The browser's mirror of the permission queue, as a pure reducer (no I/O, no clock).
 *
 * Owns: unresolved requests (oldest first), this window's optimistic decisions and the
 * outbox that carries them (each with its `clientMsgId`), the history of finished
 * requests with who or what decided, and the last queue counts. The connection machine
 * calls these functions from its actions; React only reads the result.
 *
 * Why a reducer and not a machine: every function here is a total function of
 * (state, message) and is tested table-style; the connection machine is the actor that
 * the inspector shows.
 */
import type {
  AckMessage,
  RequestView,
  Decision,
  ErrorMessage,
  PermissionRequestEvent,
  PermissionResponse,
  Remember,
  SequencedEvent,
  SnapshotMessage,
  SnapshotPartMessage,
} from '../protocol/index.ts';
import { cancelledText, decidedByWire, deciderText, OUTCOME_LABELS, parseDecidedBy, REFUSAL_TEXT } from '../protocol/outcome.ts';

/** What this window has done with a request that is still unresolved. */
export type CardPhase =
  /** No decision from this window. */
  | { kind: 'waiting' }
  /** Decided while offline: waits in the outbox. */
  | { kind: 'queued'; decision: Decision; clientMsgId: string }
  /** Sent; no answer from the server yet (shows "Allowing…"). */
  | { kind: 'sending'; decision: Decision; clientMsgId: string }
  /** The server accepted it; its `permission-resolved` is on its way. */
  | { kind: 'accepted'; decision: Decision; clientMsgId: string }
  /** The server refused it: rolled back, and this is the truth it told us. */
  | { kind: 'rejected'; code: string; message: string; decision?: Decision };

export type PendingCard = { request: PermissionRequestEvent; phase: CardPhase };

export type OutboxEntry = {
  clientMsgId: string;
  requestId: string;
  frame: PermissionResponse;
  /** Written to a socket at least once (it is sent again after a reconnect until answered:
   *  the server remembers `clientMsgId`, so a repeat makes no second decision). */
  sent: boolean;
};

export type Outcome = 'allowed' | 'denied' | 'timedOut' | 'cancelled' | 'unknown';
export type DeciderKind =
  | 'this-window'
  | 'another-window'
  /** A decision of ours was in flight when the outcome arrived: settled by the ack or error. */
  | 'unconfirmed'
  | 'rule'
  | 'http'
  | 'deadline'
  | 'agent'
  | 'unknown';

export type HistoryEntry = {
  requestId: string;
  toolName: string;
  input: Record<string, unknown>;
  context: PermissionRequestEvent['context'];
  outcome: Outcome;
  decider: DeciderKind;
  /** The server's `decidedBy` as sent (protocol/outcome.ts `parseDecidedBy` reads it);
   *  `unknown` when this window did not see the outcome. */
  decidedBy: string;
  message?: string;
  /** A cancel's reason, as the `permission-cancelled` event gave it. */
  reason?: string;
  updatedInput?: Record<string, unknown>;
  at: number;
  /** What happened to this window's own decision, when it did not count. */
  note?: string;
};

export type QueueState = {
  /** Unresolved requests by id. */
  cards: Record<string, PendingCard>;
  /** Ids of `cards`, oldest first (by the seq of their `permission-request`). */
  order: string[];
  /** Finished requests, newest first, capped at HISTORY_LIMIT. */
  history: HistoryEntry[];
  outbox: OutboxEntry[];
  counts: { pending: number; processing: number };
  /** Our `clientId` from the last `welcome`: a `decidedBy` equal to it is this window. */
  clientId: string | null;
  /** The ids this window had before (each reconnect gives a new one), newest first: a
   *  decision we sent just before a drop comes back in the replay with one of them. */
  formerClientIds: string[];
};

export const HISTORY_LIMIT = 200;
/** How many former client ids a window remembers: far more reconnects than a decision's life. */
export const FORMER_IDS_LIMIT = 100;

export function emptyQueue(): QueueState {
  return { cards: {}, order: [], history: [], outbox: [], counts: { pending: 0, processing: 0 }, clientId: null, formerClientIds: [] };
}

export type DecideCommand = {
  requestId: string;
  decision: Decision;
  clientMsgId: string;
  updatedInput?: Record<string, unknown>;
  message?: string;
  remember?: Remember;
  /** One of the request's `context.agentChoices` ids (protocol/agentChoices.ts). */
  agentChoice?: string;
};

function sortOrder(cards: Record<string, PendingCard>): string[] {
  return Object.keys(cards).sort((a, b) => cards[a]!.request.seq - cards[b]!.request.seq); // keys of cards: present
}

function pushHistory(history: HistoryEntry[], entry: HistoryEntry): HistoryEntry[] {
  return [entry, ...history.filter((h) => h.requestId !== entry.requestId)].slice(0, HISTORY_LIMIT);
}

function withoutCard(state: QueueState, id: string): Pick<QueueState, 'cards' | 'order'> {
  const { [id]: _gone, ...cards } = state.cards;
  return { cards, order: state.order.filter((x) => x !== id) };
}

function inFlight(state: QueueState, requestId: string): OutboxEntry | undefined {
  return state.outbox.find((e) => e.requestId === requestId);
}

/** Who decided, from the server's `decidedBy` and what this window knows it sent. */
export function classifyDecider(state: QueueState, requestId: string, decidedBy: string): DeciderKind {
  const by = parseDecidedBy(decidedBy);
  if (by.kind === 'rule') return 'rule';
  if (by.kind === 'http') return 'http';
  if (by.kind === 'timeout') return 'deadline';
  if (by.kind === 'agent' || by.kind === 'server') return 'agent';
  if (state.clientId !== null && decidedBy === state.clientId) return 'this-window';
  if (state.formerClientIds.includes(decidedBy)) return 'this-window';
  const card = state.cards[requestId];
  if (card?.phase.kind === 'accepted') return 'this-window';
  if (inFlight(state, requestId)?.sent) return 'unconfirmed';
  return 'another-window';
}

function noteForUnsent(entry: OutboxEntry | undefined, outcome: Outcome): string | undefined {
  if (!entry || entry.sent) return undefined;
  const verb = entry.frame.decision === 'allow' ? 'Allow' : 'Deny';
  const why = outcome === 'timedOut' ? 'the request expired while offline' : outcome === 'cancelled' ? 'the agent gave up' : 'it was decided elsewhere';
  return `Your ${verb} was not sent: ${why}.`;
}

/** A sequenced event, already checked to be the next in order. */
export function applyEvent(state: QueueState, event: SequencedEvent): QueueState {
  switch (event.type) {
    case 'permission-request': {
      if (state.cards[event.id] || state.history.some((h) => h.requestId === event.id)) return state;
      const cards = { ...state.cards, [event.id]: { request: event, phase: { kind: 'waiting' } as CardPhase } };
      return { ...state, cards, order: sortOrder(cards) };
    }
    case 'permission-resolved':
      return finish(state, event.requestId, {
        outcome: event.decision === 'allow' ? 'allowed' : 'denied',
        decider: classifyDecider(state, event.requestId, event.decidedBy),
        decidedBy: event.decidedBy,
        ...(event.message !== undefined ? { message: event.message } : {}),
        ...(event.updatedInput !== undefined ? { updatedInput: event.updatedInput } : {}),
        at: event.timestamp,
      });
    case 'permission-timeout':
      return finish(state, event.requestId, { outcome: 'timedOut', decider: 'deadline', decidedBy: decidedByWire.timeout, at: event.timestamp });
    case 'permission-cancelled':
      return finish(state, event.requestId, {
        outcome: 'cancelled',
        decider: 'agent',
        decidedBy: decidedByWire.agent,
        reason: event.reason,
        at: event.timestamp,
      });
    case 'chat-message':
    case 'session-updated':
      return state;
    default: {
      const never: never = event;
      return never;
    }
  }
}

type Finish = Pick<HistoryEntry, 'outcome' | 'decider' | 'decidedBy' | 'message' | 'updatedInput' | 'reason' | 'at'>;

function finish(state: QueueState, requestId: string, how: Finish): QueueState {
  const card = state.cards[requestId];
  if (!card) return state; // finished before we held it (or held twice): nothing to move
  const entry = inFlight(state, requestId);
  const note = noteForUnsent(entry, how.outcome);
  // An unsent decision can never count now; ours counted when this window (under any of
  // its ids) decided it: both leave the outbox. Any other sent one waits for its ack or error.
  const settled = entry !== undefined && (!entry.sent || how.decider === 'this-window');
  const outbox = settled ? state.outbox.filter((e) => e !== entry) : state.outbox;
  const history = pushHistory(state.history, {
    requestId,
    toolName: card.request.toolName,
    input: card.request.input,
    context: card.request.context,
    ...how,
    ...(note ? { note } : {}),
  });
  return { ...state, ...withoutCard(state, requestId), history, outbox };
}

/** After `resumed:false`: the snapshot is the truth. Requests we held that are not in it
 *  finished while we were away; we do not know how, and say so rather than guess. */
export function applySnapshot(state: QueueState, snapshot: SnapshotMessage, at: number): QueueState {
  const cards: Record<string, PendingCard> = {};
  for (const request of snapshot.requests) {
    cards[request.id] = { request, phase: state.cards[request.id]?.phase ?? { kind: 'waiting' } };
  }
  let history = state.history;
  let outbox = state.outbox;
  for (const id of state.order) {
    if (cards[id]) continue;
    const old = state.cards[id];
    if (!old) continue; // order lists held cards only
    const entry = inFlight(state, id);
    if (entry && !entry.sent) outbox = outbox.filter((e) => e !== entry);
    history = pushHistory(history, {
      requestId: id,
      toolName: old.request.toolName,
      input: old.request.input,
      context: old.request.context,
      outcome: 'unknown',
      decider: 'unknown',
      decidedBy: 'unknown',
      at,
      note: 'Finished while this window was disconnected.',
    });
  }
  return { ...state, cards, order: sortOrder(cards), history, outbox, counts: snapshot.queue };
}

/** A request that finished unseen (see `applySnapshot`), as `GET /api/permission-requests/ID`
 *  told the host afterwards: its history entry gets the real outcome. Only an entry still
 *  `unknown` changes, so a late answer never overwrites what an ack or event settled. */
export function applyFetchedOutcome(state: QueueState, view: RequestView): QueueState {
  const entry = state.history.find((h) => h.requestId === view.id);
  if (entry?.decider !== 'unknown') return state;
  let how: Pick<HistoryEntry, 'outcome' | 'decider' | 'decidedBy'> & { message?: string; updatedInput?: Record<string, unknown> };
  switch (view.status) {
    case 'pending':
      return state;
    case 'resolved':
      how = {
        outcome: view.decision === 'allow' ? 'allowed' : 'denied',
        decider: classifyDecider(state, view.id, view.decidedBy ?? ''),
        decidedBy: view.decidedBy ?? 'unknown',
        ...(view.message !== undefined ? { message: view.message } : {}),
        ...(view.updatedInput !== undefined ? { updatedInput: view.updatedInput } : {}),
      };
      break;
    case 'timedOut':
      how = { outcome: 'timedOut', decider: 'deadline', decidedBy: decidedByWire.timeout };
      break;
    case 'cancelled':
      // The view carries no reason: its `message` (protocol/outcome.ts `cancelledMessage`) says it.
      how = {
        outcome: 'cancelled',
        decider: 'agent',
        decidedBy: view.decidedBy ?? decidedByWire.agent,
        ...(view.message !== undefined ? { message: view.message } : {}),
      };
      break;
    default: {
      const never: never = view.status;
      return never;
    }
  }
  return { ...state, history: state.history.map((h) => (h === entry ? { ...h, ...how } : h)) };
}

/** A snapshot arriving in parts (`snapshot` with `more: true`, then `snapshot-part`s):
 *  held whole, and applied only once the last part is in, so the queue never shows half
 *  a truth and no live event is applied against it. */
export type SnapshotAssembly = { seq: number; queue: SnapshotMessage['queue']; parts: PermissionRequestEvent[][] };

export function startSnapshot(first: SnapshotMessage): SnapshotAssembly {
  return { seq: first.seq, queue: first.queue, parts: [first.requests] };
}

export function addSnapshotPart(assembly: SnapshotAssembly, part: SnapshotPartMessage): SnapshotAssembly {
  return { ...assembly, parts: [...assembly.parts, part.requests] };
}

/** The whole snapshot, as one v1 `snapshot` would have carried it. A request listed twice
 *  (which a correct server never does) is kept once. */
export function assembledSnapshot(assembly: SnapshotAssembly): SnapshotMessage {
  const seen = new Set<string>();
  const requests: PermissionRequestEvent[] = [];
  for (const part of assembly.parts) {
    for (const request of part) {
      if (seen.has(request.id)) continue;
      seen.add(request.id);
      requests.push(request);
    }
  }
  return { type: 'snapshot', seq: assembly.seq, requests, queue: assembly.queue };
}

export type DecideResult = { ok: true; state: QueueState } | { ok: false; reason: string };

/** A click: optimistic at once; the frame waits in the outbox until the server answers. */
export function decide(state: QueueState, cmd: DecideCommand, canSend: boolean): DecideResult {
  const card = state.cards[cmd.requestId];
  if (!card) return { ok: false, reason: 'unknown-request' };
  if (card.phase.kind === 'queued' || card.phase.kind === 'sending' || card.phase.kind === 'accepted') {
    return { ok: false, reason: 'already-deciding' };
  }
  const frame: PermissionResponse = {
    type: 'permission-response',
    requestId: cmd.requestId,
    decision: cmd.decision,
    clientMsgId: cmd.clientMsgId,
    ...(cmd.updatedInput ? { updatedInput: cmd.updatedInput } : {}),
    ...(cmd.message ? { message: cmd.message } : {}),
    ...(cmd.remember ? { remember: cmd.remember } : {}),
    ...(cmd.agentChoice ? { agentChoice: cmd.agentChoice } : {}),
  };
  const phase: CardPhase = canSend
    ? { kind: 'sending', decision: cmd.decision, clientMsgId: cmd.clientMsgId }
    : { kind: 'queued', decision: cmd.decision, clientMsgId: cmd.clientMsgId };
  return {
    ok: true,
    state: {
      ...state,
      cards: { ...state.cards, [cmd.requestId]: { ...card, phase } },
      outbox: [...state.outbox, { clientMsgId: cmd.clientMsgId, requestId: cmd.requestId, frame, sent: canSend }],
    },
  };
}

/** On reconnect, once caught up: every outbox frame whose request is still unresolved
 *  goes (again), and so does one sent before a drop whose request finished without this
 *  window knowing whether it counted: the server remembers its `clientMsgId` (WS-6) and
 *  answers the same ack, or the error that says why not, which settles the history entry.
 *  The caller writes `frames` to the socket. */
export function flushOutbox(state: QueueState): { state: QueueState; frames: PermissionResponse[] } {
  const frames: PermissionResponse[] = [];
  const outbox: OutboxEntry[] = [];
  const cards = { ...state.cards };
  for (const entry of state.outbox) {
    const card = cards[entry.requestId];
    if (!card) {
      // Finished meanwhile; `finish` already noted an unsent one. A sent one asks again.
      if (entry.sent) {
        frames.push(entry.frame);
        outbox.push(entry);
      }
      continue;
    }
    frames.push(entry.frame);
    outbox.push({ ...entry, sent: true });
    if (card.phase.kind === 'queued') {
      cards[entry.requestId] = { ...card, phase: { ...card.phase, kind: 'sending' } };
    } else if (card.phase.kind === 'waiting') {
      // A decision restored from before a reload (restoreOutbox): its card came back with
      // the snapshot as waiting; now it shows the decision on its way.
      cards[entry.requestId] = { ...card, phase: { kind: 'sending', decision: entry.frame.decision, clientMsgId: entry.clientMsgId } };
    }
  }
  return { state: { ...state, cards, outbox }, frames };
}

/** Settle a history entry that waited on our decision's answer: `unconfirmed` (the outcome
 *  came while ours was in flight) or `unknown` (it finished while we were disconnected;
 *  then the answer also tells the outcome). */
function settleHistory(state: QueueState, requestId: string, settle: { decider: DeciderKind; outcome?: Outcome; note?: string }): HistoryEntry[] {
  return state.history.map((h) => {
    if (h.requestId !== requestId) return h;
    if (h.decider === 'unconfirmed') return { ...h, decider: settle.decider, ...(settle.note ? { note: settle.note } : {}) };
    if (h.decider === 'unknown' && settle.outcome !== undefined)
      return { ...h, decider: settle.decider, outcome: settle.outcome, ...(settle.note ? { note: settle.note } : {}) };
    return h;
  });
}

/** What an error about our decision tells of a request that finished unseen. */
function outcomeOfRefusal(error: ErrorMessage): { outcome: Outcome; decider: DeciderKind } | undefined {
  if (error.code === 'already-resolved' && error.decision) return { outcome: error.decision === 'allow' ? 'allowed' : 'denied', decider: 'another-window' };
  if (error.code === 'expired') return { outcome: 'timedOut', decider: 'deadline' };
  if (error.code === 'cancelled') return { outcome: 'cancelled', decider: 'agent' };
  return undefined;
}

/** The server accepted our decision (`ref` = clientMsgId). */
export function applyAck(state: QueueState, ack: AckMessage): QueueState {
  const entry = ack.ref ? state.outbox.find((e) => e.clientMsgId === ack.ref) : undefined;
  if (!entry) return state;
  const outbox = state.outbox.filter((e) => e !== entry);
  const card = state.cards[entry.requestId];
  const cards =
    card && (card.phase.kind === 'sending' || card.phase.kind === 'queued')
      ? {
          ...state.cards,
          [entry.requestId]: { ...card, phase: { kind: 'accepted', decision: entry.frame.decision, clientMsgId: entry.clientMsgId } as CardPhase },
        }
      : state.cards;
  const outcome: Outcome = entry.frame.decision === 'allow' ? 'allowed' : 'denied';
  return { ...state, cards, outbox, history: settleHistory(state, entry.requestId, { decider: 'this-window', outcome }) };
}

export function rejectionText(code: string): string {
  return REFUSAL_TEXT[code] ?? code;
}

/** The server refused a frame of ours: roll the card back to the truth it told us.
 *  Returns null when the error is not about one of our decisions (a general error). */
export function applyDecisionError(state: QueueState, error: ErrorMessage): QueueState | null {
  const entry = error.ref ? state.outbox.find((e) => e.clientMsgId === error.ref) : undefined;
  if (!entry) return null;
  const outbox = state.outbox.filter((e) => e !== entry);
  const card = state.cards[entry.requestId];
  const phase: CardPhase = { kind: 'rejected', code: error.code, message: error.message, ...(error.decision ? { decision: error.decision } : {}) };
  const cards = card ? { ...state.cards, [entry.requestId]: { ...card, phase } } : state.cards;
  const verb = entry.frame.decision === 'allow' ? 'Allow' : 'Deny';
  const note = `Your ${verb} did not count: ${rejectionText(error.code)}.`;
  const unseen = outcomeOfRefusal(error);
  const history = state.history.map((h) => (h.requestId === entry.requestId && h.decider === 'unknown' && unseen ? { ...h, ...unseen, note } : h));
  return { ...state, cards, outbox, history: settleHistory({ ...state, history }, entry.requestId, { decider: 'another-window', note }) };
}

export function setCounts(state: QueueState, counts: { pending: number; processing: number }): QueueState {
  return { ...state, counts };
}

/** From each `welcome`: lets `classifyDecider` recognise this window's own decisions. */
export function setClientId(state: QueueState, clientId: string): QueueState {
  if (state.clientId === null || state.clientId === clientId) return { ...state, clientId };
  return { ...state, clientId, formerClientIds: [state.clientId, ...state.formerClientIds.filter((id) => id !== clientId)].slice(0, FORMER_IDS_LIMIT) };
}

/** How a cancel reason reads on every screen (the `permission-cancelled` event's
 *  `reason`): protocol/outcome.ts `cancelledText`. */
export function cancelReasonText(reason: string | undefined): string {
  return cancelledText(reason);
}

/** How a history entry reads, e.g. "Allowed by you (this window)", "Denied: decided
 *  elsewhere (the client "bob")", in the words of protocol/outcome.ts. */
export function describeOutcome(entry: HistoryEntry): string {
  if (entry.outcome === 'cancelled') return entry.reason !== undefined ? cancelledText(entry.reason) : (entry.message ?? OUTCOME_LABELS.cancelled);
  const what = entry.outcome === 'unknown' ? 'Finished' : OUTCOME_LABELS[entry.outcome];
  switch (entry.decider) {
    case 'this-window':
      return `${what} by you (this window)`;
    case 'another-window':
    case 'http':
      // `unknown`: refused as already decided, by whom this window did not see.
      return entry.decidedBy === 'unknown' ? `${what}: decided elsewhere` : `${what}: decided elsewhere (${deciderText(parseDecidedBy(entry.decidedBy))})`;
    case 'unconfirmed':
      return `${what} (confirming…)`;
    case 'rule':
      return `${what} by ${deciderText(parseDecidedBy(entry.decidedBy))}`;
    case 'deadline':
      return `${what}: the deadline passed`;
    case 'agent':
      return `${what} by ${deciderText(parseDecidedBy(entry.decidedBy))}`;
    case 'unknown':
      return `${what}: outcome not seen (disconnected)`;
    default: {
      const never: never = entry.decider;
      return never;
    }
  }
}

/** After a reload (docs/ui.md, "Offline decisions"): the outbox the page kept in
 *  IndexedDB comes back before the first connection, each entry with its clientMsgId, so
 *  the flush once live sends it (again) and the server, which remembers clientMsgIds,
 *  never counts one twice. Entries for a request this window already decides are dropped
 *  (the live decision stands), so one request never has two. */
export function restoreOutbox(state: QueueState, entries: readonly OutboxEntry[]): QueueState {
  const ids = new Set(state.outbox.map((e) => e.clientMsgId));
  const requests = new Set(state.outbox.map((e) => e.requestId));
  const restored: OutboxEntry[] = [];
  for (const entry of entries) {
    if (ids.has(entry.clientMsgId) || requests.has(entry.requestId) || entry.frame.requestId !== entry.requestId) continue;
    const phase = state.cards[entry.requestId]?.phase.kind;
    if (phase !== undefined && phase !== 'waiting') continue;
    ids.add(entry.clientMsgId);
    requests.add(entry.requestId);
    restored.push(entry);
  }
  return restored.length ? { ...state, outbox: [...state.outbox, ...restored] } : state;
}
