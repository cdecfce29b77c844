/**
 * The demo agent through a real server process, decided over the WebSocket.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAndJoin, startServerProcess, type Frame, type ServerProcess } from '../testing/index.ts';

let server: ServerProcess;
beforeAll(async () => {
  server = await startServerProcess({ args: ['--agent', 'demo'] });
});
afterAll(async () => {
  await server?.stop();
});

describe('the demo agent', () => {
  it('AGT-4: completes a chat turn over the WebSocket with allowed and denied tool calls; the allowed write changed the workspace', async () => {
    const { client } = await connectAndJoin(server.wsUrl());
    try {
      const started = await server.api('/api/sessions', { method: 'POST', json: { prompt: 'show me what you can do' } });
      expect(started.status).toBe(201);
      const session = started.body.session;
      expect(session.agent).toBe('demo');

      const answered = new Set<string>();
      const decide = async (toolName: string, decision: 'allow' | 'deny', message?: string) => {
        const request = await client.waitFor(
          (f) => f.type === 'permission-request' && f.toolName === toolName && f.context?.sessionId === session.id && !answered.has(f.id),
          { timeoutMs: 15_000 },
        );
        answered.add(request.id);
        expect(request.context).toMatchObject({ agent: 'demo', sessionId: session.id });
        expect(typeof request.context.toolUseId).toBe('string');
        const clientMsgId = crypto.randomUUID();
        client.send({ type: 'permission-response', requestId: request.id, decision, clientMsgId, ...(message ? { message } : {}) });
        await client.waitFor((f) => f.type === 'ack' && f.ref === clientMsgId);
        return request;
      };
      const list = await decide('Bash', 'deny', 'No listing today');
      const write = await decide('Write', 'allow');
      await decide('Edit', 'deny');
      await decide('Bash', 'allow');
      await client.waitFor((f) => f.type === 'chat-message' && f.sessionId === session.id && f.message.kind === 'turn-end', { timeoutMs: 15_000 });

      // The allowed write happened for real; the denied edit did not.
      const file = String(write.input.file_path);
      expect(readFileSync(file, 'utf8')).toBe('Hello from the Gatehouse demo agent.\n');
      expect(existsSync(join(server.dataDir, 'workspace', session.id))).toBe(true);
      expect(readdirSync(join(server.dataDir, 'workspace', session.id))).toContain(file.split('/').pop());

      const chat = client.events().filter((f: Frame) => f.type === 'chat-message' && f.sessionId === session.id);
      expect(chat[0]?.message).toMatchObject({ role: 'user', kind: 'text', text: 'show me what you can do' });
      expect(chat.some((f) => f.message.kind === 'text' && /demo agent/i.test(f.message.text))).toBe(true);
      const denied = chat.find((f) => f.message.kind === 'tool-result' && f.message.requestId === list.id);
      expect(denied?.message).toMatchObject({ isError: true, text: 'No listing today' });
      const ran = chat.filter((f) => f.message.kind === 'tool-result' && !f.message.isError);
      expect(ran.map((f) => f.message.text).join('\n')).toContain('the demo agent ran a harmless command');

      // The history API gives the same messages, in order, with their seq.
      const history = await server.api(`/api/sessions/${session.id}/messages`);
      expect(history.status).toBe(200);
      expect(history.body.messages.map((m: { seq: number }) => m.seq)).toEqual(chat.map((f) => f.seq));
      const sessions = await server.api('/api/sessions');
      expect(sessions.body.sessions[0]).toMatchObject({ id: session.id, status: 'idle' });
    } finally {
      await client.close();
    }
  }, 40_000);

  it('AGT-5: bad chat input gets a clear 400/404', async () => {
    expect((await server.api('/api/sessions', { method: 'POST', json: { prompt: '' } })).status).toBe(400);
    expect((await server.api('/api/sessions', { method: 'POST', json: { prompt: 'x', cwd: '/no/such/dir' } })).status).toBe(400);
    expect((await server.api('/api/sessions/nope/messages')).status).toBe(404);
    expect((await server.api('/api/sessions/nope/messages', { method: 'POST', json: { prompt: 'x' } })).status).toBe(404);
  });
});
