/**
 * Chat sessions and their messages: kept in the agents database for the history API
 * (`GET /api/sessions`, `GET /api/sessions/ID/messages`) and sent to browsers as
 * sequenced `chat-message` / `session-updated` events through the broker's
 * `stream.append`, so they are persisted and resumed like every other event.
 */
import { randomUUID } from 'node:crypto';
import type { ChatMessage, ChatSession, SequencedEvent } from '../../protocol/index.ts';
import type { AppendableEvent } from '../../machines/broker.types.ts';
import type { Logger } from '../log.ts';
import type { AgentsDb } from './db.ts';

export type AppendHost = { append(event: AppendableEvent): Promise<SequencedEvent> };

export type StoredChatMessage = { seq?: number; timestamp: number; message: ChatMessage };

type SessionRow = {
  id: string;
  title: string;
  agent: string;
  cwd: string;
  status: ChatSession['status'];
  created_at: number;
  updated_at: number;
  sdk_session_id: string | null;
};

const toSession = (row: SessionRow): ChatSession => ({
  id: row.id,
  title: row.title,
  agent: row.agent,
  cwd: row.cwd,
  status: row.status,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

export class SessionStore {
  private readonly positions = new Map<string, number>();
  constructor(private readonly deps: { db: AgentsDb; host: AppendHost; logger: Logger; now?: () => number }) {}

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  private emit(event: AppendableEvent): Promise<SequencedEvent | undefined> {
    return this.deps.host.append(event).catch((error: unknown) => {
      this.deps.logger.warn('could not append a chat event', { error: String(error) });
      return undefined;
    });
  }

  create(spec: { title: string; agent: string; cwd: string }): ChatSession {
    const now = this.now();
    const session: ChatSession = {
      id: `sess-${randomUUID()}`,
      title: spec.title.slice(0, 200) || 'Chat',
      agent: spec.agent,
      cwd: spec.cwd,
      status: 'idle',
      createdAt: now,
      updatedAt: now,
    };
    this.deps.db
      .prepare(`INSERT INTO sessions (id, title, agent, cwd, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`)
      .run(session.id, session.title, session.agent, session.cwd, session.status, now, now);
    void this.emit({ type: 'session-updated', session, timestamp: now });
    return session;
  }

  get(id: string): ChatSession | undefined {
    const row = this.deps.db.prepare(`SELECT * FROM sessions WHERE id = ?`).get(id) as SessionRow | undefined;
    return row ? toSession(row) : undefined;
  }

  sdkSessionId(id: string): string | undefined {
    const row = this.deps.db.prepare(`SELECT sdk_session_id FROM sessions WHERE id = ?`).get(id) as { sdk_session_id: string | null } | undefined;
    return row?.sdk_session_id ?? undefined;
  }

  setSdkSessionId(id: string, sdkSessionId: string): void {
    this.deps.db.prepare(`UPDATE sessions SET sdk_session_id = ? WHERE id = ?`).run(sdkSessionId, id);
  }

  list(): ChatSession[] {
    return (this.deps.db.prepare(`SELECT * FROM sessions ORDER BY created_at DESC, id`).all() as SessionRow[]).map(toSession);
  }

  setStatus(id: string, status: ChatSession['status']): Promise<unknown> {
    const now = this.now();
    this.deps.db.prepare(`UPDATE sessions SET status = ?, updated_at = ? WHERE id = ?`).run(status, now, id);
    const session = this.get(id);
    return session ? this.emit({ type: 'session-updated', session, timestamp: now }) : Promise.resolve();
  }

  /** Stores the message at once (in call order) and sends it; resolves once sequenced. */
  async add(sessionId: string, message: Omit<ChatMessage, 'id'> & { id?: string }): Promise<ChatMessage> {
    const full = { ...message, id: message.id ?? `msg-${randomUUID()}` } as ChatMessage;
    const timestamp = this.now();
    const position = this.nextPosition(sessionId);
    this.deps.db
      .prepare(`INSERT INTO messages (session_id, position, body, timestamp) VALUES (?, ?, ?, ?)`)
      .run(sessionId, position, JSON.stringify(full), timestamp);
    const event = await this.emit({ type: 'chat-message', sessionId, message: full, timestamp });
    if (event) this.deps.db.prepare(`UPDATE messages SET seq = ? WHERE session_id = ? AND position = ?`).run(event.seq, sessionId, position);
    return full;
  }

  private nextPosition(sessionId: string): number {
    let position = this.positions.get(sessionId);
    if (position === undefined) {
      const row = this.deps.db.prepare(`SELECT MAX(position) AS max FROM messages WHERE session_id = ?`).get(sessionId) as { max: number | null };
      position = row.max ?? -1;
    }
    position += 1;
    this.positions.set(sessionId, position);
    return position;
  }

  messages(sessionId: string): StoredChatMessage[] {
    const rows = this.deps.db.prepare(`SELECT seq, body, timestamp FROM messages WHERE session_id = ? ORDER BY position`).all(sessionId) as Array<{
      seq: number | null;
      body: string;
      timestamp: number;
    }>;
    return rows.map((row) => ({ ...(row.seq !== null ? { seq: row.seq } : {}), timestamp: row.timestamp, message: JSON.parse(row.body) as ChatMessage }));
  }
}
