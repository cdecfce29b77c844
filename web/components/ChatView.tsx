/**
 * Chat with agents: the sessions list, a new-session form, and one conversation whose
 * messages arrive live. A tool use that asked permission shows the same RequestCard as
 * the queue (matched by `message.requestId`, else by the request's `context.toolUseId`),
 * and requests of this session not yet tied to a message are shown at the end.
 */
import { useEffect, useMemo, useState } from 'react';
import { type ChatMessage, sessionAnswer, sessionStopped } from '../../protocol/index.ts';
import { api, errorText } from '../state/api.ts';
import { createdSessionAnswer, messagesAnswer, sessionsAnswer } from '../state/chat.ts';
import { ChatContext } from '../state/chatContext.ts';
import { ConnectionContext } from '../state/connection.ts';
import { RequestCard } from './RequestCard.tsx';
import { HiddenWarning, Visible } from './Visible.tsx';

/** The answer to a sent message is checked, not used: the message arrives over the stream. */
const messageSentAnswer = sessionAnswer;

function useSessions() {
  const chat = ChatContext.useActorRef();
  // A reset (the stream was lost, or the first welcome came after this load) bumps the
  // generation: the effect runs again, so the voided state is reloaded (UI-21).
  const generation = ChatContext.useSelector((s) => s.context.generation);
  useEffect(() => {
    let live = true;
    void generation;
    api('/api/sessions', sessionsAnswer)
      .then((r) => live && chat.send({ type: 'sessions.loaded', sessions: r.sessions }))
      .catch((e: unknown) => live && chat.send({ type: 'sessions.failed', error: errorText(e) }));
    return () => {
      live = false;
    };
  }, [chat, generation]);
}

function useMessages(sessionId: string | null) {
  const chat = ChatContext.useActorRef();
  const generation = ChatContext.useSelector((s) => s.context.generation);
  useEffect(() => {
    if (!sessionId) return;
    let live = true;
    void generation;
    api(`/api/sessions/${encodeURIComponent(sessionId)}/messages`, messagesAnswer)
      .then((r) => live && chat.send({ type: 'messages.loaded', sessionId, messages: r.messages }))
      .catch((e: unknown) => live && chat.send({ type: 'messages.failed', sessionId, error: errorText(e) }));
    return () => {
      live = false;
    };
  }, [chat, sessionId, generation]);
}

function NewSession({ onCreated }: { onCreated: (id: string) => void }) {
  const [prompt, setPrompt] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  return (
    <form
      className="new-session"
      onSubmit={(e) => {
        e.preventDefault();
        if (!prompt.trim()) return;
        setBusy(true);
        setError(null);
        api('/api/sessions', createdSessionAnswer, { method: 'POST', body: { prompt } })
          .then((s) => {
            setPrompt('');
            onCreated(s.id);
          })
          .catch((err: unknown) => setError(errorText(err)))
          .finally(() => setBusy(false));
      }}
    >
      <label htmlFor="new-prompt">Prompt for a new session</label>
      <textarea id="new-prompt" rows={3} value={prompt} onChange={(e) => setPrompt(e.target.value)} />
      <button type="submit" disabled={busy || !prompt.trim()}>
        {busy ? 'Starting…' : 'New session'}
      </button>
      {error && (
        <p className="phase error" role="alert">
          Could not start a session: {error}
        </p>
      )}
    </form>
  );
}

function MessageView({ message, requestId }: { message: ChatMessage; requestId: string | undefined }) {
  switch (message.kind) {
    case 'text':
      return (
        <div className={`msg msg-${message.role}`} data-testid="chat-message">
          <span className="who">{message.role === 'user' ? 'You' : message.role === 'assistant' ? 'Agent' : 'System'}</span>
          <p className="text">
            <Visible text={message.text ?? ''} />
          </p>
        </div>
      );
    case 'tool-use':
      return (
        <div className="msg msg-tool" data-testid="chat-message">
          <span className="who">
            Tool use: <Visible text={message.toolName ?? 'tool'} />
          </span>
          {requestId ? (
            <RequestCard requestId={requestId} />
          ) : (
            <>
              <HiddenWarning value={message.input} />
              <pre className="mono json code">
                <Visible text={JSON.stringify(message.input ?? {}, null, 2)} />
              </pre>
            </>
          )}
        </div>
      );
    case 'tool-result':
      return (
        <div className={`msg msg-result${message.isError ? ' is-error' : ''}`} data-testid="chat-message">
          <span className="who">Tool result{message.isError ? ' (error)' : ''}</span>
          <pre className="mono code">
            <Visible text={message.text ?? ''} />
          </pre>
        </div>
      );
    case 'turn-end':
      return (
        <p className="msg msg-end muted small" data-testid="chat-message">
          Turn ended{message.text ? ': ' : ''}
          {message.text ? <Visible text={message.text ?? ''} /> : null}
        </p>
      );
    case 'error':
      return (
        <p className="msg phase error" role="alert" data-testid="chat-message">
          Agent error: <Visible text={message.text ?? ''} />
        </p>
      );
    default: {
      const never: never = message.kind;
      return never;
    }
  }
}

/** Stop (docs/chat.md): interrupts the running turn; its waiting requests are cancelled.
 *  The session's `session-updated` (idle) then hides the button. */
function StopTurn({ sessionId }: { sessionId: string }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  return (
    <>
      <button
        type="button"
        className="danger"
        disabled={busy}
        onClick={() => {
          setBusy(true);
          setError(null);
          api(`/api/sessions/${encodeURIComponent(sessionId)}/stop`, sessionStopped, { method: 'POST' })
            .catch((err: unknown) => setError(errorText(err)))
            .finally(() => setBusy(false));
        }}
      >
        {busy ? 'Stopping…' : 'Stop'}
      </button>
      {error && (
        <p className="phase error" role="alert">
          Not stopped: {error}
        </p>
      )}
    </>
  );
}

function Conversation({ sessionId }: { sessionId: string }) {
  useMessages(sessionId);
  const messages = ChatContext.useSelector((s) => s.context.messages[sessionId]);
  const loadError = ChatContext.useSelector((s) => s.context.messagesError[sessionId]);
  const session = ChatContext.useSelector((s) => s.context.sessions.find((x) => x.id === sessionId));
  const cards = ConnectionContext.useSelector((s) => s.context.queue.cards);
  const history = ConnectionContext.useSelector((s) => s.context.queue.history);
  const [text, setText] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  // toolUseId → requestId, for messages that do not name their request.
  const byToolUse = useMemo(() => {
    const map = new Map<string, string>();
    for (const h of history) if (h.context.toolUseId) map.set(h.context.toolUseId, h.requestId);
    for (const c of Object.values(cards)) if (c.request.context.toolUseId) map.set(c.request.context.toolUseId, c.request.id);
    return map;
  }, [cards, history]);
  const list = messages ?? [];
  const shown = new Set<string>();
  const resolveRequest = (m: ChatMessage) => m.requestId ?? (m.toolUseId ? byToolUse.get(m.toolUseId) : undefined);
  for (const m of list) {
    const r = resolveRequest(m);
    if (r) shown.add(r);
  }
  const loose = Object.values(cards)
    .filter((c) => c.request.context.sessionId === sessionId && !shown.has(c.request.id))
    .sort((a, b) => a.request.seq - b.request.seq);

  return (
    <section className="conversation" aria-labelledby="conv-title">
      <h2 id="conv-title">
        <Visible text={session?.title ?? sessionId} />
      </h2>
      {session && (
        <p className="muted small">
          {session.agent} ·{' '}
          <span className="mono code">
            <Visible text={session.cwd} />
          </span>{' '}
          · {session.status}
        </p>
      )}
      {loadError && (
        <p className="phase error" role="alert">
          Could not load the history: {loadError}
        </p>
      )}
      <ol className="messages" aria-label="Messages" aria-live="polite">
        {list.map((m) => (
          <li key={m.id}>
            <MessageView message={m} requestId={resolveRequest(m)} />
          </li>
        ))}
        {loose.map((c) => (
          <li key={c.request.id}>
            <RequestCard requestId={c.request.id} />
          </li>
        ))}
      </ol>
      <form
        className="send"
        onSubmit={(e) => {
          e.preventDefault();
          if (!text.trim()) return;
          setBusy(true);
          setError(null);
          api(`/api/sessions/${encodeURIComponent(sessionId)}/messages`, messageSentAnswer, { method: 'POST', body: { prompt: text } })
            .then(() => setText(''))
            .catch((err: unknown) => setError(errorText(err)))
            .finally(() => setBusy(false));
        }}
      >
        <label htmlFor="chat-text">Message</label>
        <textarea id="chat-text" rows={2} placeholder="Message the agent" value={text} onChange={(e) => setText(e.target.value)} />
        <button type="submit" disabled={busy || !text.trim()}>
          Send
        </button>
        {session?.status === 'running' && <StopTurn sessionId={sessionId} />}
        {error && (
          <p className="phase error" role="alert">
            Not sent: {error}
          </p>
        )}
      </form>
    </section>
  );
}

export function ChatView({ sessionId, onOpen }: { sessionId: string | null; onOpen: (id: string | null) => void }) {
  useSessions();
  const sessions = ChatContext.useSelector((s) => s.context.sessions);
  const sessionsError = ChatContext.useSelector((s) => s.context.sessionsError);
  return (
    <div className="chat-layout">
      <aside className="sessions" aria-labelledby="sessions-title">
        <h2 id="sessions-title">Sessions</h2>
        <NewSession onCreated={(id) => onOpen(id)} />
        {sessionsError && (
          <p className="phase error" role="alert">
            Sessions unavailable: {sessionsError}
          </p>
        )}
        <ul>
          {sessions.map((s) => (
            <li key={s.id}>
              <a href={`#/chat/${encodeURIComponent(s.id)}`} aria-current={s.id === sessionId ? 'page' : undefined}>
                <Visible text={s.title || s.id} />
              </a>{' '}
              <span className="muted small">{s.status}</span>
            </li>
          ))}
        </ul>
      </aside>
      {sessionId ? <Conversation key={sessionId} sessionId={sessionId} /> : <p className="empty">Pick a session or start a new one.</p>}
    </div>
  );
}
