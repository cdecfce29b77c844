/**
 * A fake OpenAI-compatible chat completions API on loopback, for driving the real
 * opencode offline (its `@ai-sdk/openai-compatible` provider with `baseURL` here). It
 * answers `POST /v1/chat/completions` with streaming chunks: a text reply, or one
 * `bash` tool call (`delta.tool_calls`, `finish_reason: "tool_calls"`), then a usage
 * chunk and `[DONE]`; a non-streaming request (opencode's title generation) gets the
 * same as one JSON completion. Every request is recorded so tests can read what the
 * model got back (the tool message with the command's result or the rejection).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type ChatMessage = { role: string; content?: unknown; tool_calls?: unknown[]; tool_call_id?: string };
export type ChatRequest = { path: string; body: { model?: string; stream?: boolean; messages?: ChatMessage[]; tools?: unknown[] } & Record<string, unknown> };
export type ChatReply = { text?: string; toolCall?: { name: string; arguments: Record<string, unknown> } };
export type ChatScript = (request: ChatRequest) => ChatReply;

export type FakeChatCompletions = {
  /** The base URL to give as the provider's `baseURL` (ends in `/v1`). */
  baseUrl: string;
  requests: ChatRequest[];
  setScript(script: ChatScript): void;
  close(): Promise<void>;
};

/** The text of a message's content (a string or a list of text parts). */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content))
    return content
      .map((part) => (part && typeof part === 'object' && typeof (part as { text?: unknown }).text === 'string' ? (part as { text: string }).text : ''))
      .join('');
  return '';
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

const USAGE = { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 };
let callCounter = 0;

export async function startFakeChatCompletions(script: ChatScript = () => ({ text: 'Hello.' })): Promise<FakeChatCompletions> {
  let current = script;
  const requests: ChatRequest[] = [];
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'POST' || path !== '/v1/chat/completions') {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `no route ${req.method} ${path}`, type: 'not_found' } }));
      return;
    }
    readBody(req)
      .then((text) => {
        let body: ChatRequest['body'];
        try {
          body = JSON.parse(text) as ChatRequest['body'];
        } catch {
          res.writeHead(400, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { message: 'body is not JSON', type: 'invalid_request_error' } }));
          return;
        }
        const recorded: ChatRequest = { path, body };
        requests.push(recorded);
        const reply = current(recorded);
        const id = `chatcmpl-${Date.now().toString(36)}`;
        const created = Math.floor(Date.now() / 1000);
        const model = body.model ?? 'fake-model';
        const base = { id, object: 'chat.completion.chunk', created, model };
        const callId = `call_${++callCounter}`;
        const toolCalls = reply.toolCall
          ? [{ index: 0, id: callId, type: 'function', function: { name: reply.toolCall.name, arguments: JSON.stringify(reply.toolCall.arguments) } }]
          : undefined;
        const finish = toolCalls ? 'tool_calls' : 'stop';
        if (body.stream !== true) {
          const message = {
            role: 'assistant',
            content: reply.text ?? null,
            ...(toolCalls ? { tool_calls: toolCalls.map(({ index: _index, ...call }) => call) } : {}),
          };
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ id, object: 'chat.completion', created, model, choices: [{ index: 0, message, finish_reason: finish }], usage: USAGE }));
          return;
        }
        const chunks: unknown[] = [{ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] }];
        if (reply.text) chunks.push({ ...base, choices: [{ index: 0, delta: { content: reply.text }, finish_reason: null }] });
        if (toolCalls) chunks.push({ ...base, choices: [{ index: 0, delta: { tool_calls: toolCalls }, finish_reason: null }] });
        chunks.push({ ...base, choices: [{ index: 0, delta: {}, finish_reason: finish }] });
        chunks.push({ ...base, choices: [], usage: USAGE });
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        res.end(chunks.map((chunk) => `data: ${JSON.stringify(chunk)}\n\n`).join('') + 'data: [DONE]\n\n');
      })
      .catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    setScript(next) {
      current = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
