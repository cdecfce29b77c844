/**
 * HTTP to a running `opencode serve` (docs/integrations.md, "opencode"): its event stream
 * `GET /event` read as server-sent events and reconnected with backoff when it drops,
 * the list of pending asks `GET /permission`, the project folder `GET /path`, and the
 * reply `POST /permission/:id/reply`. Basic auth (`OPENCODE_SERVER_USERNAME`, default
 * `opencode`, and `OPENCODE_SERVER_PASSWORD`) when a password is given, as opencode's own
 * clients do. An optional `directory` is passed as `?directory=` on every call (opencode
 * serves one instance per project folder; without it, its own working folder).
 */

export type OpencodeClientOptions = {
  url: string;
  username?: string | undefined;
  password?: string | undefined;
  directory?: string | undefined;
};

/** A URL to attach to: http(s), no credentials in it (give them as the password). */
export function checkOpencodeUrl(value: string): { ok: true; url: string } | { ok: false; reason: string } {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return { ok: false, reason: `--url ${JSON.stringify(value)} is not a URL` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { ok: false, reason: `--url must be http:// or https://, not ${url.protocol}` };
  if (url.username || url.password) return { ok: false, reason: '--url must not carry a user name or password (use OPENCODE_SERVER_PASSWORD)' };
  if (url.search || url.hash) return { ok: false, reason: '--url must not have a query or fragment' };
  return { ok: true, url: url.href.replace(/\/+$/, '') };
}

export class OpencodeClient {
  private readonly base: string;
  private readonly headers: Record<string, string>;
  private readonly query: string;

  constructor(options: OpencodeClientOptions) {
    this.base = options.url.replace(/\/+$/, '');
    this.headers = {};
    if (options.password) this.headers.authorization = `Basic ${Buffer.from(`${options.username || 'opencode'}:${options.password}`).toString('base64')}`;
    this.query = options.directory ? `?directory=${encodeURIComponent(options.directory)}` : '';
  }

  private async json(method: string, path: string, body?: unknown, timeoutMs = 5000): Promise<{ status: number; body: unknown }> {
    const response = await fetch(`${this.base}${path}${this.query}`, {
      method,
      headers: { ...this.headers, accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = text;
    }
    return { status: response.status, body: parsed };
  }

  /** Pending asks (`GET /permission`); throws when opencode does not answer with a list. */
  async pending(): Promise<unknown[]> {
    const answer = await this.json('GET', '/permission');
    if (answer.status !== 200 || !Array.isArray(answer.body)) throw new Error(`GET /permission answered ${answer.status}`);
    return answer.body;
  }

  /** opencode's project folder (`GET /path` → `directory`), or undefined. */
  async directory(): Promise<string | undefined> {
    const answer = await this.json('GET', '/path');
    const directory = (answer.body as { directory?: unknown } | undefined)?.directory;
    return answer.status === 200 && typeof directory === 'string' ? directory : undefined;
  }

  /** Reply to an ask; true when opencode took it (200 `true`), false when it does not know it (404). */
  async reply(permissionId: string, body: { reply: string; message?: string }): Promise<boolean> {
    const answer = await this.json('POST', `/permission/${encodeURIComponent(permissionId)}/reply`, body);
    if (answer.status === 404) return false;
    if (answer.status !== 200) throw new Error(`POST /permission/…/reply answered ${answer.status}: ${JSON.stringify(answer.body).slice(0, 200)}`);
    return answer.body === true;
  }

  /**
   * Read `GET /event` until `signal` aborts, reconnecting with backoff (250 ms doubling to
   * 5 s; back to 250 ms after a stream that opened). `onOpen` runs on every connect,
   * before any of its events is handed over (the resync); `onEvent` gets each `data:`
   * JSON, and must not block.
   */
  async stream(handlers: { onOpen(): Promise<void>; onEvent(data: unknown): void; log(message: string): void }, signal: AbortSignal): Promise<void> {
    let delay = 250;
    while (!signal.aborted) {
      try {
        const response = await fetch(`${this.base}/event${this.query}`, { headers: { ...this.headers, accept: 'text/event-stream' }, signal });
        if (response.status !== 200 || !response.body)
          throw new Error(`GET /event answered ${response.status}${response.status === 401 ? ' (wrong or missing OPENCODE_SERVER_PASSWORD)' : ''}`);
        const buffered: unknown[] = [];
        let opened = false;
        const deliver = (data: unknown) => (opened ? handlers.onEvent(data) : buffered.push(data));
        // The resync runs while the stream is already open (so no ask falls between the
        // two); events that arrive meanwhile are handed over after it.
        const reader = response.body.getReader();
        const open = handlers
          .onOpen()
          .catch((error: unknown) => handlers.log(`resync failed: ${(error as Error).message}`))
          .finally(() => {
            opened = true;
            for (const data of buffered.splice(0)) handlers.onEvent(data);
          });
        delay = 250;
        handlers.log('connected to opencode');
        const decoder = new TextDecoder();
        let text = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          text += decoder.decode(value, { stream: true });
          let cut: number;
          while ((cut = text.search(/\r?\n\r?\n/)) >= 0) {
            const block = text.slice(0, cut);
            text = text.slice(cut).replace(/^\r?\n\r?\n/, '');
            const data = block
              .split(/\r?\n/)
              .filter((line) => line.startsWith('data:'))
              .map((line) => line.slice(5).replace(/^ /, ''))
              .join('\n');
            if (!data) continue;
            try {
              deliver(JSON.parse(data));
            } catch {
              handlers.log('an event that is not JSON: skipped');
            }
          }
          if (text.length > 16 << 20) throw new Error('an event of more than 16 MiB');
        }
        await open;
        if (!signal.aborted) handlers.log('the event stream ended; reconnecting');
      } catch (error) {
        if (signal.aborted) return;
        handlers.log(`event stream: ${(error as Error).message}; reconnecting in ${delay} ms`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
      });
      delay = Math.min(delay * 2, 5000);
    }
  }
}
