/**
 * A fake Anthropic Messages API on loopback, for driving the real Claude Code binary
 * offline (claude-code-offline.md). It answers `POST /v1/messages` with the streaming
 * server-sent events Claude Code expects (or one JSON message when `stream` is false),
 * following a per-test script, and records every request so tests can assert what the
 * model received (e.g. a deny message in an `is_error` tool_result). Every other path
 * gets 404.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type FakeTextBlock = { type: 'text'; text: string };
export type FakeToolUseBlock = { type: 'tool_use'; id?: string; name: string; input: Record<string, unknown> };
export type FakeBlock = FakeTextBlock | FakeToolUseBlock;
export type FakeReply = { content: FakeBlock[]; stopReason?: 'tool_use' | 'end_turn' };

/** A content block of a request message, as Claude Code sends it. */
export type RequestBlock = {
  type: string;
  text?: string;
  id?: string;
  name?: string;
  input?: unknown;
  tool_use_id?: string;
  content?: unknown;
  is_error?: boolean;
};
export type RequestMessage = { role: string; content: string | RequestBlock[] };
export type RecordedRequest = {
  path: string;
  body: { model?: string; stream?: boolean; messages?: RequestMessage[]; system?: unknown; tools?: unknown[] } & Record<string, unknown>;
};

/** Decides the reply to one request. */
export type FakeScript = (request: RecordedRequest) => FakeReply;

export type FakeMessagesApi = {
  url: string;
  port: number;
  /** Every `/v1/messages` request received, in order. */
  requests: RecordedRequest[];
  /** Replace the script (between phases of one test). */
  setScript(script: FakeScript): void;
  /** The tool_result blocks sent back to the model, across every request (latest per tool_use_id). */
  toolResults(): ToolResultView[];
  /** What the model got back for the last Bash tool_use with this command. */
  toolResultForCommand(command: string): ToolResultView | undefined;
  close(): Promise<void>;
};

export type ToolResultView = { toolUseId: string; isError: boolean; text: string };

let idCounter = 0;
function newId(prefix: string): string {
  idCounter += 1;
  return `${prefix}_${Date.now().toString(36)}${idCounter.toString(36).padStart(6, '0')}`;
}

/** The text of a tool_result's content (a string or a list of text blocks). */
export function blockText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((part) => (part && typeof part === 'object' && typeof (part as { text?: unknown }).text === 'string' ? (part as { text: string }).text : ''))
      .join('');
  }
  return '';
}

function messagesOf(request: RecordedRequest): RequestMessage[] {
  return Array.isArray(request.body.messages) ? request.body.messages : [];
}

function blocksOf(message: RequestMessage): RequestBlock[] {
  return Array.isArray(message.content) ? message.content : [];
}

/** tool_result blocks after the last assistant message: the answers to its tool uses.
 *  Messages may include `role: "system"` entries, so no position is assumed. */
export function pendingToolResults(request: RecordedRequest): ToolResultView[] {
  const messages = messagesOf(request);
  let lastAssistant = -1;
  messages.forEach((message, index) => {
    if (message.role === 'assistant') lastAssistant = index;
  });
  if (lastAssistant < 0) return [];
  const results: ToolResultView[] = [];
  for (const message of messages.slice(lastAssistant + 1)) {
    for (const block of blocksOf(message)) {
      if (block.type === 'tool_result') {
        results.push({ toolUseId: String(block.tool_use_id ?? ''), isError: block.is_error === true, text: blockText(block.content) });
      }
    }
  }
  return results;
}

/** How many tool_result blocks the conversation holds in total. */
export function countToolResults(request: RecordedRequest): number {
  let count = 0;
  for (const message of messagesOf(request)) for (const block of blocksOf(message)) if (block.type === 'tool_result') count += 1;
  return count;
}

/**
 * The common script: propose the given tool uses one round at a time (round N is used
 * once N tool results are in the conversation), then a final text. `final` may look at
 * the last tool results to echo them.
 */
export function toolRounds(
  rounds: Array<{ name: string; input: Record<string, unknown> }>,
  final: string | ((results: ToolResultView[]) => string) = 'Done.',
): FakeScript {
  return (request) => {
    const done = countToolResults(request);
    const next = rounds[done];
    if (next)
      return {
        content: [
          { type: 'text', text: `I will use ${next.name}.` },
          { type: 'tool_use', name: next.name, input: next.input },
        ],
        stopReason: 'tool_use',
      };
    const text = typeof final === 'string' ? final : final(pendingToolResults(request));
    return { content: [{ type: 'text', text }], stopReason: 'end_turn' };
  };
}

/** One tool use, then final text once its tool_result follows. */
export function oneToolUse(name: string, input: Record<string, unknown>, final?: string | ((results: ToolResultView[]) => string)): FakeScript {
  return toolRounds([{ name, input }], final);
}

function sse(res: ServerResponse, event: string, data: unknown): void {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

function withIds(reply: FakeReply): FakeBlock[] {
  return reply.content.map((block) => (block.type === 'tool_use' ? { ...block, id: block.id ?? newId('toolu') } : block));
}

function stopReasonOf(reply: FakeReply, blocks: FakeBlock[]): 'tool_use' | 'end_turn' {
  return reply.stopReason ?? (blocks.some((block) => block.type === 'tool_use') ? 'tool_use' : 'end_turn');
}

const USAGE = { input_tokens: 10, output_tokens: 10, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };

function writeStream(res: ServerResponse, model: string, reply: FakeReply): void {
  const blocks = withIds(reply);
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'request-id': newId('req') });
  sse(res, 'message_start', {
    type: 'message_start',
    message: { id: newId('msg'), type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: USAGE },
  });
  blocks.forEach((block, index) => {
    if (block.type === 'text') {
      sse(res, 'content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
      sse(res, 'content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text: block.text } });
    } else {
      sse(res, 'content_block_start', { type: 'content_block_start', index, content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} } });
      // The input in two pieces, as the real API streams partial JSON.
      const json = JSON.stringify(block.input);
      const cut = Math.floor(json.length / 2);
      sse(res, 'content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: json.slice(0, cut) } });
      sse(res, 'content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: json.slice(cut) } });
    }
    sse(res, 'content_block_stop', { type: 'content_block_stop', index });
  });
  sse(res, 'message_delta', { type: 'message_delta', delta: { stop_reason: stopReasonOf(reply, blocks), stop_sequence: null }, usage: { output_tokens: 10 } });
  sse(res, 'message_stop', { type: 'message_stop' });
  res.end();
}

function writeJson(res: ServerResponse, model: string, reply: FakeReply): void {
  const blocks = withIds(reply);
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(
    JSON.stringify({
      id: newId('msg'),
      type: 'message',
      role: 'assistant',
      model,
      content: blocks,
      stop_reason: stopReasonOf(reply, blocks),
      stop_sequence: null,
      usage: USAGE,
    }),
  );
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export async function startFakeMessagesApi(script: FakeScript = () => ({ content: [{ type: 'text', text: 'Hello.' }] })): Promise<FakeMessagesApi> {
  let current = script;
  const requests: RecordedRequest[] = [];
  function toolResults(): ToolResultView[] {
    const byId = new Map<string, ToolResultView>();
    for (const request of requests) {
      for (const message of messagesOf(request)) {
        for (const block of blocksOf(message)) {
          if (block.type === 'tool_result') {
            const view = { toolUseId: String(block.tool_use_id ?? ''), isError: block.is_error === true, text: blockText(block.content) };
            byId.set(view.toolUseId, view);
          }
        }
      }
    }
    return [...byId.values()];
  }
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'POST' || path !== '/v1/messages') {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ type: 'error', error: { type: 'not_found_error', message: `no route ${req.method} ${path}` } }));
      return;
    }
    readBody(req)
      .then((text) => {
        let body: RecordedRequest['body'];
        try {
          body = JSON.parse(text) as RecordedRequest['body'];
        } catch {
          res.writeHead(400, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ type: 'error', error: { type: 'invalid_request_error', message: 'body is not JSON' } }));
          return;
        }
        const recorded: RecordedRequest = { path, body };
        requests.push(recorded);
        let reply: FakeReply;
        try {
          reply = current(recorded);
        } catch (error) {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ type: 'error', error: { type: 'api_error', message: String(error) } }));
          return;
        }
        const model = typeof body.model === 'string' ? body.model : 'fake-model';
        if (body.stream === true) writeStream(res, model, reply);
        else writeJson(res, model, reply);
      })
      .catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    setScript(next) {
      current = next;
    },
    toolResults,
    toolResultForCommand(command) {
      const toolUse = requests
        .flatMap((request) => request.body.messages ?? [])
        .flatMap((message) => (Array.isArray(message.content) ? message.content : []))
        .filter((block) => block.type === 'tool_use' && (block.input as { command?: string })?.command === command)
        .pop();
      return toolResults().find((result) => result.toolUseId === toolUse?.id);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
