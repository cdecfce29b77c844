/**
 * Chat Stop and a turn that died with its server, with the demo agent in the real server
 * process: Stop interrupts the running turn (its waiting request is cancelled, the
 * conversation says so, the session is idle), and a session whose server was killed
 * mid-turn says so after the restart instead of looking alive.
 */
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { startServerProcess, type ServerProcess } from '../testing/index.ts';

const servers: ServerProcess[] = [];
afterAll(async () => {
  for (const s of servers) await s.stop();
});

async function start(dataDir?: string): Promise<ServerProcess> {
  const s = await startServerProcess({ args: ['--agent', 'demo'], ...(dataDir ? { dataDir } : {}) });
  servers.push(s);
  return s;
}

/** Starts a demo session and waits until its first request waits for the human. */
async function sessionWaiting(s: ServerProcess): Promise<{ sessionId: string; requestId: string }> {
  const created = await s.api('/api/sessions', { method: 'POST', json: { prompt: 'stop test' } });
  expect(created.status, created.text).toBe(201);
  const sessionId = created.body.session.id as string;
  for (;;) {
    // The long-poll of the queue is the WebSocket; here a short poll of the list, which
    // each iteration's HTTP round-trip paces.
    const list = await s.api('/api/permission-requests?status=pending');
    const found = (list.body.requests as Array<{ id: string; context: { sessionId?: string } }>).find((r) => r.context.sessionId === sessionId);
    if (found) return { sessionId, requestId: found.id };
  }
}

type Message = { message: { kind: string; role: string; text?: string } };

describe('chat Stop and a dead turn', () => {
  it('HUM-7: Stop interrupts the running turn: its waiting request is cancelled, the conversation says it was stopped, the session is idle', async () => {
    const s = await start();
    const { sessionId, requestId } = await sessionWaiting(s);
    const before = await s.api(`/api/sessions/${sessionId}/messages`);
    expect(before.body.running).toBe(true);
    const stopped = await s.api(`/api/sessions/${sessionId}/stop`, { method: 'POST' });
    expect(stopped.body).toEqual({ id: sessionId, stopped: true });
    const outcome = await s.api(`/api/permission-requests/${requestId}?wait=10`);
    expect(outcome.body.status).toBe('cancelled');
    for (;;) {
      const after = await s.api(`/api/sessions/${sessionId}/messages`);
      if (after.body.running === false && after.body.session.status === 'idle') {
        const texts = (after.body.messages as Message[]).map((m) => m.message.text ?? '');
        expect(texts.some((t) => t.startsWith('Stopped: you interrupted this turn'))).toBe(true);
        break;
      }
    }
    // A second Stop has nothing to stop; an unknown session is a 404.
    expect((await s.api(`/api/sessions/${sessionId}/stop`, { method: 'POST' })).body.stopped).toBe(false);
    expect((await s.api('/api/sessions/nope/stop', { method: 'POST' })).status).toBe(404);
  });

  it('HUM-8: after kill -9 mid-turn and a restart, the session says its agent stopped with the server and is idle, not running', async () => {
    const first = await start();
    const dataDir = first.dataDir;
    const { sessionId } = await sessionWaiting(first);
    expect((await first.api('/api/sessions')).body.sessions.find((x: { id: string }) => x.id === sessionId).status).toBe('running');
    await first.kill('SIGKILL');
    const second = await start(dataDir);
    const after = await second.api(`/api/sessions/${sessionId}/messages`);
    expect(after.body.running).toBe(false);
    expect(after.body.session.status).toBe('idle');
    const last = (after.body.messages as Message[]).slice(-2).map((m) => m.message);
    expect(last[0]).toMatchObject({ role: 'system', kind: 'error' });
    expect(last[0]?.text).toMatch(/The agent stopped when the Gatehouse server stopped/);
    expect(last[1]).toMatchObject({ kind: 'turn-end' });
    // A new message starts a new turn in that session.
    expect((await second.api(`/api/sessions/${sessionId}/messages`, { method: 'POST', json: { prompt: 'again' } })).status).toBe(202);
    await second.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });
});
