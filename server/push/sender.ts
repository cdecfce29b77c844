/**
 * One Web Push message, sent once (RFC 8030): web-push's `generateRequestDetails` builds
 * the request (payload encrypted per RFC 8291 `aes128gcm`, VAPID JWT per RFC 8292), and
 * node's http/https sends it, because web-push's own `sendNotification` only speaks
 * https and the tests' push service is plain http on loopback. Bounded: one attempt, a
 * timeout on the whole exchange, no redirects followed (node does not follow them), and
 * the response body is read and dropped up to a few KiB.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import webpush from 'web-push';
import type { VapidKeys } from './vapid.ts';

export type PushTarget = { endpoint: string; keys: { p256dh: string; auth: string } };

export type SendOptions = {
  vapid: VapidKeys;
  /** The VAPID `sub` (mailto: or https:). */
  subject: string;
  /** How long the push service keeps an undelivered message. */
  ttlSeconds: number;
  /** RFC 8030 §5.4: a later message with the same topic replaces an undelivered one. */
  topic?: string;
  urgency?: 'very-low' | 'low' | 'normal' | 'high';
  timeoutMs: number;
};

export type SendResult = { ok: true; status: number } | { ok: false; status?: number; error: string };

const MAX_RESPONSE_BYTES = 4096;

/** A push endpoint's path is a capability (whoever knows it can push to that browser):
 *  logs show its origin and a short digest only. */
export function redactEndpoint(endpoint: string): string {
  let origin = 'invalid-url';
  try {
    origin = new URL(endpoint).origin;
  } catch {
    // keep the placeholder
  }
  return `${origin}/…#${createHash('sha256').update(endpoint).digest('hex').slice(0, 8)}`;
}

/** A topic for a request: at most 32 base64url characters (RFC 8030 §5.4), stable per id. */
export function topicFor(requestId: string): string {
  return createHash('sha256').update(requestId).digest('base64url').slice(0, 32);
}

export function sendWebPush(target: PushTarget, payload: string, options: SendOptions): Promise<SendResult> {
  let details: ReturnType<typeof webpush.generateRequestDetails>;
  try {
    details = webpush.generateRequestDetails(target, payload, {
      vapidDetails: { subject: options.subject, publicKey: options.vapid.publicKey, privateKey: options.vapid.privateKey },
      TTL: Math.max(0, Math.floor(options.ttlSeconds)),
      contentEncoding: 'aes128gcm',
      urgency: options.urgency ?? 'high',
      ...(options.topic ? { topic: options.topic } : {}),
    });
  } catch (error) {
    return Promise.resolve({ ok: false, error: `could not build the push: ${(error as Error).message}` });
  }
  const url = new URL(details.endpoint);
  const transport = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : undefined;
  if (!transport) return Promise.resolve({ ok: false, error: `unsupported scheme ${url.protocol}` });

  return new Promise<SendResult>((resolve) => {
    let settled = false;
    const finish = (result: SendResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const req = transport.request(url, { method: details.method, headers: details.headers as http.OutgoingHttpHeaders, agent: false }, (res) => {
      let seen = 0;
      res.on('data', (chunk: Buffer) => {
        seen += chunk.length;
        if (seen > MAX_RESPONSE_BYTES) res.destroy();
      });
      const status = res.statusCode ?? 0;
      const done = () => finish(status >= 200 && status < 300 ? { ok: true, status } : { ok: false, status, error: `the push service answered ${status}` });
      res.on('end', done);
      res.on('close', done);
      res.on('error', done);
    });
    const timer = setTimeout(() => {
      req.destroy();
      finish({ ok: false, error: `no answer within ${options.timeoutMs} ms` });
    }, options.timeoutMs);
    req.on('error', (error) => finish({ ok: false, error: error.message }));
    req.end(details.body ?? undefined);
  });
}
