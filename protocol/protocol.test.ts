import { describe, expect, it } from 'vitest';
import {
  LIMITS,
  clientMessage,
  createRequestBody,
  parseJsonWith,
  serverMessage,
  decisionBody,
  errorBody,
  ERROR_CODES,
  requestByteLength,
  requestList,
} from './index.ts';

describe('protocol schemas', () => {
  it('PROTO-1: every client message of the contract parses', () => {
    for (const frame of [
      { type: 'ack', seq: 3 },
      { type: 'permission-response', requestId: 'test-123', decision: 'allow' },
      { type: 'permission-response', requestId: 'r', decision: 'deny', message: 'no', clientMsgId: 'c-1' },
      { type: 'permission-response', requestId: 'r', decision: 'allow', updatedInput: { command: 'ls' } },
      { type: 'ping' },
      { type: 'ping', id: 7 },
    ]) {
      expect(parseJsonWith(clientMessage, JSON.stringify(frame))).toMatchObject({ ok: true, value: frame });
    }
  });

  it('PROTO-2: a frame that is not JSON or fits no schema gets an error naming the problem', () => {
    expect(parseJsonWith(clientMessage, '{nope')).toEqual({ ok: false, error: 'not valid JSON' });
    const wrongDecision = parseJsonWith(clientMessage, '{"type":"permission-response","requestId":"r","decision":"maybe"}');
    expect(wrongDecision.ok).toBe(false);
    if (!wrongDecision.ok) expect(wrongDecision.error).toContain('decision');
    const unknownType = parseJsonWith(clientMessage, '{"type":"launch-missiles"}');
    expect(unknownType.ok).toBe(false);
    if (!unknownType.ok) expect(unknownType.error).toContain('type');
  });

  it('PROTO-3: a tool input over 256 KiB is refused at the edge', () => {
    const big = { command: 'x'.repeat(LIMITS.maxInputBytes) };
    const result = createRequestBody.safeParse({ toolName: 'Bash', input: big });
    expect(result.success).toBe(false);
    expect(createRequestBody.safeParse({ toolName: 'Bash', input: { command: 'ls' } }).success).toBe(true);
    expect(decisionBody.safeParse({ decision: 'allow', updatedInput: big }).success).toBe(false);
  });

  it('PROTO-4: timeoutMs is bounded to 100 ms .. 24 h', () => {
    const body = (timeoutMs: number) => createRequestBody.safeParse({ toolName: 'Bash', input: {}, timeoutMs }).success;
    expect(body(99)).toBe(false);
    expect(body(100)).toBe(true);
    expect(body(86_400_000)).toBe(true);
    expect(body(86_400_001)).toBe(false);
  });

  it('PROTO-5: every server message of the contract parses with the shared schema', () => {
    const request = {
      type: 'permission-request',
      seq: 1,
      id: 'r1',
      toolName: 'Bash',
      input: { command: 'ls' },
      context: { sessionId: 's', cwd: '/tmp', extra: 1 },
      timestamp: 1,
      expiresAt: 2,
    };
    for (const frame of [
      { type: 'welcome', protocol: 1, epoch: 'e', seq: 0, resumed: false, clientId: 'c' },
      { type: 'snapshot', seq: 1, requests: [request], queue: { pending: 1, processing: 0 } },
      request,
      { type: 'permission-resolved', seq: 2, requestId: 'r1', decision: 'allow', decidedBy: 'http', timestamp: 3 },
      { type: 'permission-timeout', seq: 2, requestId: 'r1', toolName: 'Bash', timestamp: 3 },
      { type: 'permission-cancelled', seq: 2, requestId: 'r1', reason: 'agent', timestamp: 3 },
      { type: 'permission-queue-status', pending: 1, processing: 0 },
      { type: 'ack', ref: 'c-1', requestId: 'r1', status: 'accepted' },
      { type: 'error', code: 'already-resolved', message: 'm', requestId: 'r1', decision: 'deny' },
      { type: 'pong', id: 1 },
    ]) {
      const parsed = serverMessage.safeParse(frame);
      expect(parsed.success, JSON.stringify(frame)).toBe(true);
    }
    // context keeps keys beyond the known ones
    expect(serverMessage.parse(request)).toMatchObject({ context: { extra: 1 } });
  });

  it('PROTO-6: an input or context nested deeper than 100 levels is refused with a message, never a stack overflow', () => {
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < 20_000; i++) deep = { a: deep };
    const input = createRequestBody.safeParse({ toolName: 'Bash', input: deep });
    expect(input.success).toBe(false);
    if (!input.success) expect(input.error.issues[0]?.message).toContain('nested at most 100');
    expect(createRequestBody.safeParse({ toolName: 'Bash', input: {}, context: { extra: deep } }).success).toBe(false);
    let shallow: Record<string, unknown> = {};
    for (let i = 0; i < 50; i++) shallow = { a: shallow };
    expect(createRequestBody.safeParse({ toolName: 'Bash', input: shallow }).success).toBe(true);
  });

  it('LIM-2 LIM-4: snapshot parts, the paged list and the new error codes parse with the shared schemas', () => {
    const request = { type: 'permission-request', seq: 1, id: 'r1', toolName: 'Bash', input: { command: 'ls' }, context: {}, timestamp: 1, expiresAt: 2 };
    expect(serverMessage.safeParse({ type: 'snapshot', seq: 1, requests: [request], queue: { pending: 2, processing: 0 }, more: true }).success).toBe(true);
    expect(serverMessage.safeParse({ type: 'snapshot-part', requests: [request], more: false }).success).toBe(true);
    expect(serverMessage.safeParse({ type: 'snapshot-part', requests: [request] }).success).toBe(false); // more is required
    expect(serverMessage.safeParse({ type: 'snapshot-part', requests: [{ ...request, seq: 'x' }], more: true }).success).toBe(false);
    expect(requestList.safeParse({ requests: [], next: 'r9' }).success).toBe(true);
    for (const code of [ERROR_CODES.tooManyRequests, ERROR_CODES.requestTimeout]) {
      expect(errorBody.safeParse({ error: { code, message: 'm' } }).success).toBe(true);
    }
    expect(requestByteLength({ input: { a: 'é' }, context: { b: 1 } })).toBe(Buffer.byteLength('{"a":"é"}') + Buffer.byteLength('{"b":1}'));
    expect(requestByteLength({ input: {} })).toBe(4);
  });
});

describe('a __proto__ key', () => {
  it('RT-26: parseJsonText refuses a __proto__ key at any depth (zod records would drop it, hiding it from the card and the rules while the tool gets it)', async () => {
    const { parseJsonText, parseJsonWith, createRequestBody } = await import('./index.ts');
    for (const text of ['{"__proto__":{"x":1}}', '{"toolName":"Write","input":{"file_path":"/p/a","__proto__":{"x":1}}}', '{"a":[{"b":{"__proto__":null}}]}']) {
      const parsed = parseJsonText(text);
      expect(parsed.ok, text).toBe(false);
      if (!parsed.ok) expect(parsed.error).toMatch(/__proto__/);
    }
    expect(parseJsonWith(createRequestBody, '{"toolName":"Write","input":{"file_path":"/p/a","__proto__":{"x":1}}}').ok).toBe(false);
    // The word itself in a value is fine, and ordinary input parses as before.
    expect(parseJsonText('{"command":"echo __proto__"}')).toEqual({ ok: true, value: { command: 'echo __proto__' } });
  });
});
