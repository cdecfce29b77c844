/**
 * A fake OpenAI Responses API on loopback, for driving the real Codex CLI offline (a
 * `[model_providers.fake]` with `base_url = "<url>/v1"`, `wire_api = "responses"`,
 * `FAKE_API_KEY=fake`; docs/testing.md). It answers `POST /v1/responses` with the SSE
 * events Codex acts on: `response.created`, `response.output_item.added` / `.done` for
 * each output item, `response.completed`. Every request is recorded. The script sees the
 * request's `input` and returns the output items: a `function_call` (`exec_command`,
 * `apply_patch`, …) or an assistant `message`.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type ResponsesInputItem = {
  type?: string;
  role?: string;
  content?: unknown;
  call_id?: string;
  output?: unknown;
  name?: string;
  arguments?: string;
} & Record<string, unknown>;
export type ResponsesRequest = {
  path: string;
  body: { model?: string; input?: ResponsesInputItem[]; tools?: Array<{ name?: string; type?: string }> } & Record<string, unknown>;
};
export type ResponsesOutputItem = Record<string, unknown>;
export type ResponsesScript = (request: ResponsesRequest) => ResponsesOutputItem[];

export type FakeResponsesApi = {
  /** The base URL Codex takes (`…/v1`). */
  url: string;
  requests: ResponsesRequest[];
  setScript(script: ResponsesScript): void;
  close(): Promise<void>;
};

/** An assistant message item. */
export const assistantMessage = (text: string): ResponsesOutputItem => ({
  type: 'message',
  role: 'assistant',
  id: `msg_${Math.random().toString(36).slice(2)}`,
  content: [{ type: 'output_text', text, annotations: [] }],
});

/** A `function_call` item calling `name` with `args` (JSON-encoded, as the API does). */
export const functionCall = (callId: string, name: string, args: Record<string, unknown>): ResponsesOutputItem => ({
  type: 'function_call',
  id: `fc_${callId}`,
  call_id: callId,
  name,
  arguments: JSON.stringify(args),
});

/** The function call outputs in the request's input (what the tools gave back). */
export const functionOutputs = (request: ResponsesRequest): ResponsesInputItem[] =>
  (request.body.input ?? []).filter((item) => item.type === 'function_call_output' || item.type === 'custom_tool_call_output');

/** The text of the user's messages in the input, joined. */
export function userText(request: ResponsesRequest): string {
  const parts: string[] = [];
  for (const item of request.body.input ?? []) {
    if (item.role !== 'user' || !Array.isArray(item.content)) continue;
    for (const block of item.content as Array<{ type?: string; text?: string }>)
      if (block.type === 'input_text' && typeof block.text === 'string') parts.push(block.text);
  }
  return parts.join('\n');
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

const USAGE = { input_tokens: 10, input_tokens_details: null, output_tokens: 5, output_tokens_details: null, total_tokens: 15 };
const sse = (type: string, data: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;

export async function startFakeResponsesApi(script: ResponsesScript = () => [assistantMessage('Hello.')]): Promise<FakeResponsesApi> {
  let current = script;
  let counter = 0;
  const requests: ResponsesRequest[] = [];
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'POST' || path !== '/v1/responses') {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `no route ${req.method} ${path}`, type: 'invalid_request_error' } }));
      return;
    }
    readBody(req)
      .then((text) => {
        let body: ResponsesRequest['body'];
        try {
          body = JSON.parse(text) as ResponsesRequest['body'];
        } catch {
          res.writeHead(400, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { message: 'body is not JSON', type: 'invalid_request_error' } }));
          return;
        }
        const recorded: ResponsesRequest = { path, body };
        requests.push(recorded);
        const id = `resp_${++counter}`;
        let out = sse('response.created', { response: { id } });
        for (const item of current(recorded)) out += sse('response.output_item.added', { item }) + sse('response.output_item.done', { item });
        out += sse('response.completed', { response: { id, usage: USAGE } });
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        res.end(out);
      })
      .catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1`,
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
