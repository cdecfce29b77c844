/**
 * Helpers of the chaos suite (server/chaos/*.test.ts), on top of server/testing: a
 * checked client (every frame through the StreamChecker, across reconnects), an audit
 * of the whole stored stream (replayed from seq 0), and small HTTP helpers. The suite
 * asserts on what these return; nothing here sleeps: every wait awaits a frame, an
 * exit or a stderr line, with a bound.
 */
import type { ServerProcess } from '../../server/testing/index.ts';
import { CheckedClient } from './checkedClient.js';

export type Frame = Record<string, any> & { type: string };

/** A CheckedClient that keeps its frames (for assertions) and a label. */
export type Watched = { client: CheckedClient; frames: Frame[] };

export function watch(server: () => ServerProcess, label: string, options: { ackEveryMs?: number } = {}): Watched {
  const frames: Frame[] = [];
  const client = new CheckedClient({ label, url: (params) => server().wsUrl(params), onFrame: (f: Frame) => frames.push(f), ...options });
  return { client, frames };
}

export const WAIT_MS = 10_000;

/** Wait until `predicate` matches a frame of `watched`; returns it. */
export async function frameOf(watched: Watched, predicate: (f: Frame) => boolean, what = 'a matching frame', timeoutMs = WAIT_MS): Promise<Frame> {
  await watched.client.until(() => watched.frames.some(predicate), timeoutMs, what);
  return watched.frames.find(predicate)!;
}

/** A clientMsgId's answer (ack or error). */
export function answerOf(watched: Watched, ref: string, timeoutMs = WAIT_MS): Promise<Frame> {
  return frameOf(watched, (f) => (f.type === 'ack' || f.type === 'error') && f.ref === ref, `the answer to ${ref}`, timeoutMs);
}

export async function createRequest(server: ServerProcess, body: Record<string, unknown> = {}, key?: string) {
  const res = await server.api('/api/permission-requests', {
    method: 'POST',
    json: { toolName: 'Bash', input: { command: 'make test' }, timeoutMs: 600_000, ...body },
    headers: key ? { 'Idempotency-Key': key } : {},
  });
  if (res.status !== 201 && res.status !== 200) throw new Error(`create answered ${res.status}: ${res.text}`);
  return res.body as { id: string; seq: number; expiresAt: number; status: string };
}

export async function readRequest(server: ServerProcess, id: string) {
  return (await server.api(`/api/permission-requests/${id}`)).body;
}

export type StreamAudit = {
  epoch: string;
  head: number;
  /** id -> seq of its permission-request */
  requests: Map<string, number>;
  /** requestId -> outcome events (more than one is a violation) */
  outcomes: Map<string, Frame[]>;
  violations: string[];
};

/**
 * Replay the whole stored stream (since=0 in the current epoch) through a StreamChecker:
 * gapless from 1 to the head, one permission-request per id, at most one outcome each.
 */
export async function auditStream(server: ServerProcess, epoch: string): Promise<StreamAudit> {
  const w = watch(() => server, 'auditor');
  w.client.checker.epoch = epoch; // as if it held seq 0 of this epoch
  const welcome = await w.client.connect({ resume: true });
  try {
    if (!welcome.resumed)
      return {
        epoch: welcome.epoch,
        head: welcome.seq,
        requests: new Map(),
        outcomes: new Map(),
        violations: [`auditor: since=0 was not resumed (${JSON.stringify(welcome)})`],
      };
    await w.client.until(() => w.client.checker.lastSeq >= welcome.seq, WAIT_MS, `the head ${welcome.seq}`);
    const requests = new Map<string, number>();
    const outcomes = new Map<string, Frame[]>();
    for (const f of w.frames) {
      if (f.type === 'permission-request') requests.set(f.id, f.seq);
      if (f.type === 'permission-resolved' || f.type === 'permission-timeout' || f.type === 'permission-cancelled') {
        outcomes.set(f.requestId, [...(outcomes.get(f.requestId) ?? []), f]);
      }
    }
    return { epoch: welcome.epoch, head: welcome.seq, requests, outcomes, violations: [...w.client.checker.violations] };
  } finally {
    w.client.close();
  }
}
