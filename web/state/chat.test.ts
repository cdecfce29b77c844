import { describe, expect, it } from 'vitest';
import type { ChatMessage, ChatSession } from '../../protocol/index.ts';
import { chatReducer, emptyChat, messagesAnswer } from './chat.ts';

const session = (id: string, updatedAt: number): ChatSession => ({ id, title: id, agent: 'demo', cwd: '/', status: 'idle', createdAt: 1, updatedAt });
const msg = (id: string, text = id): ChatMessage => ({ id, role: 'assistant', kind: 'text', text });

describe('chat state', () => {
  it('UI-20: history and live messages merge without duplicates, history first', () => {
    let s = chatReducer(emptyChat, { type: 'stream', event: { type: 'chat-message', seq: 5, sessionId: 's1', message: msg('m3'), timestamp: 1 } });
    s = chatReducer(s, { type: 'messages.loaded', sessionId: 's1', messages: [msg('m1'), msg('m2'), msg('m3')] });
    s = chatReducer(s, { type: 'stream', event: { type: 'chat-message', seq: 6, sessionId: 's1', message: msg('m2'), timestamp: 1 } });
    expect(s.messages.s1?.map((m) => m.id)).toEqual(['m1', 'm2', 'm3']);
  });

  it('UI-21: session-updated upserts, newest first; reset voids and bumps the generation', () => {
    let s = chatReducer(emptyChat, { type: 'sessions.loaded', sessions: [session('a', 1), session('b', 2)] });
    s = chatReducer(s, { type: 'stream', event: { type: 'session-updated', seq: 1, session: session('a', 3), timestamp: 3 } });
    expect(s.sessions.map((x) => x.id)).toEqual(['a', 'b']);
    s = chatReducer(s, { type: 'reset' });
    expect(s.sessions).toEqual([]);
    expect(s.generation).toBe(1);
  });

  it('UI-22: the messages answer may hold chat-message events or bare messages', () => {
    const parsed = messagesAnswer.parse({
      session: {},
      messages: [{ type: 'chat-message', seq: 1, sessionId: 's', message: msg('x'), timestamp: 1 }, msg('y'), { seq: 3, timestamp: 3, message: msg('z') }],
    });
    expect(parsed.messages.map((m) => m.id)).toEqual(['x', 'y', 'z']);
    expect(messagesAnswer.safeParse({ messages: [{ nope: 1 }] }).success).toBe(false);
  });
});
