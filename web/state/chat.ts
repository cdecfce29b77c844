/**
 * Chat state, a pure reducer run as an actor (`fromTransition`): the sessions list and
 * each session's messages, merged from the HTTP history and the live stream without
 * duplicates (by message id). `reset` (the stream was lost: `resumed:false`) voids
 * everything and bumps `generation`, which makes the views fetch again.
 */
import { fromTransition } from 'xstate';
import { z } from 'zod';
import { chatMessage, chatMessageEvent, chatSession } from '../../protocol/index.ts';
import type { ChatMessage, ChatSession } from '../../protocol/index.ts';
import type { ChatStreamEvent } from '../../machines/connection.frames.ts';

export type ChatState = {
  sessions: ChatSession[];
  sessionsError: string | null;
  messages: Record<string, ChatMessage[]>;
  messagesError: Record<string, string>;
  generation: number;
};

export type ChatEvent =
  | { type: 'sessions.loaded'; sessions: ChatSession[] }
  | { type: 'sessions.failed'; error: string }
  | { type: 'messages.loaded'; sessionId: string; messages: ChatMessage[] }
  | { type: 'messages.failed'; sessionId: string; error: string }
  | { type: 'stream'; event: ChatStreamEvent }
  | { type: 'reset' };

export const emptyChat: ChatState = { sessions: [], sessionsError: null, messages: {}, messagesError: {}, generation: 0 };

function upsertSession(sessions: ChatSession[], session: ChatSession): ChatSession[] {
  const rest = sessions.filter((s) => s.id !== session.id);
  return [session, ...rest].sort((a, b) => b.updatedAt - a.updatedAt);
}

function mergeMessages(held: ChatMessage[], incoming: ChatMessage[]): ChatMessage[] {
  const seen = new Set(held.map((m) => m.id));
  const out = [...held];
  for (const m of incoming) {
    if (seen.has(m.id)) continue;
    seen.add(m.id);
    out.push(m);
  }
  return out;
}

export function chatReducer(state: ChatState, event: ChatEvent): ChatState {
  switch (event.type) {
    case 'sessions.loaded':
      return { ...state, sessions: [...event.sessions].sort((a, b) => b.updatedAt - a.updatedAt), sessionsError: null };
    case 'sessions.failed':
      return { ...state, sessionsError: event.error };
    case 'messages.loaded': {
      // History first, then anything the stream delivered meanwhile.
      const live = state.messages[event.sessionId] ?? [];
      const { [event.sessionId]: _cleared, ...messagesError } = state.messagesError;
      return { ...state, messages: { ...state.messages, [event.sessionId]: mergeMessages(event.messages, live) }, messagesError };
    }
    case 'messages.failed':
      return { ...state, messagesError: { ...state.messagesError, [event.sessionId]: event.error } };
    case 'stream': {
      const e = event.event;
      if (e.type === 'session-updated') return { ...state, sessions: upsertSession(state.sessions, e.session) };
      const held = state.messages[e.sessionId] ?? [];
      return { ...state, messages: { ...state.messages, [e.sessionId]: mergeMessages(held, [e.message]) } };
    }
    case 'reset':
      return { ...emptyChat, generation: state.generation + 1 };
    default: {
      const never: never = event;
      return never;
    }
  }
}

export const chatLogic = fromTransition(chatReducer, emptyChat);

/** `GET /api/sessions`: `{sessions:[…]}` or a bare array. */
export const sessionsAnswer = z.union([z.object({ sessions: z.array(chatSession) }), z.array(chatSession).transform((sessions) => ({ sessions }))]);

const messageItem = z.union([chatMessageEvent.transform((e) => e.message), z.object({ message: chatMessage }).transform((e) => e.message), chatMessage]);
/** `GET /api/sessions/ID/messages`: `{messages: [{seq?, timestamp, message}]}`; bare
 *  messages and `chat-message` events are accepted too. */
export const messagesAnswer = z.union([z.object({ messages: z.array(messageItem) }), z.array(messageItem).transform((messages) => ({ messages }))]);

/** `POST /api/sessions`: the new session, bare or wrapped. */
export const createdSessionAnswer = z.union([z.object({ session: chatSession }).transform((x) => x.session), chatSession, z.looseObject({ id: z.string() })]);
