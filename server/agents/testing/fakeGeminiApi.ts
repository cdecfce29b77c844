/**
 * A fake Gemini API on loopback, for driving the real Gemini CLI offline
 * (`GOOGLE_GEMINI_BASE_URL`, `GEMINI_API_KEY=fake`, `-m gemini-2.5-flash`). It answers
 * `POST /v1beta/models/MODEL:streamGenerateContent?alt=sse` with one server-sent event
 * holding the whole candidate, and `:generateContent` with the same JSON; every request
 * is recorded so tests can read what the model got back (a `functionResponse`). The
 * script sees the request's `contents`.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type GeminiPart = {
  text?: string;
  functionCall?: { name: string; args: Record<string, unknown> };
  functionResponse?: { name: string; response: unknown };
};
export type GeminiContent = { role?: string; parts?: GeminiPart[] };
export type GeminiRequest = { path: string; body: { contents?: GeminiContent[]; tools?: unknown[] } & Record<string, unknown> };
export type GeminiScript = (request: GeminiRequest) => GeminiPart[];

export type FakeGeminiApi = {
  url: string;
  requests: GeminiRequest[];
  setScript(script: GeminiScript): void;
  close(): Promise<void>;
};

/** The parts of the last content in the conversation. */
export function lastParts(request: GeminiRequest): GeminiPart[] {
  const contents = request.body.contents ?? [];
  return contents[contents.length - 1]?.parts ?? [];
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

const USAGE = { promptTokenCount: 10, candidatesTokenCount: 5, totalTokenCount: 15 };

export async function startFakeGeminiApi(script: GeminiScript = () => [{ text: 'Hello.' }]): Promise<FakeGeminiApi> {
  let current = script;
  const requests: GeminiRequest[] = [];
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const match = /^\/v1beta\/models\/[^/:]+:(streamGenerateContent|generateContent)$/.exec(path!);
    if (req.method !== 'POST' || !match) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 404, message: `no route ${req.method} ${path}`, status: 'NOT_FOUND' } }));
      return;
    }
    readBody(req)
      .then((text) => {
        let body: GeminiRequest['body'];
        try {
          body = JSON.parse(text) as GeminiRequest['body'];
        } catch {
          res.writeHead(400, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { code: 400, message: 'body is not JSON', status: 'INVALID_ARGUMENT' } }));
          return;
        }
        const recorded: GeminiRequest = { path: path!, body };
        requests.push(recorded);
        const candidate = { content: { role: 'model', parts: current(recorded) }, finishReason: 'STOP', index: 0 };
        const payload = { candidates: [candidate], usageMetadata: USAGE };
        if (match[1] === 'streamGenerateContent') {
          res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
          res.end(`data: ${JSON.stringify(payload)}\r\n\r\n`);
        } else {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify(payload));
        }
      })
      .catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
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
