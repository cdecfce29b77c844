import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LIMITS } from './constants.ts';
import { fastCreateBody, parseCreateBody } from './createBody.ts';
import { jsonByteLength } from './fields.ts';
import { createRequestBody } from './http.ts';
import { parseJsonText, parseWith } from './parse.ts';

/** What the route did before CORE-F10: zod alone. */
const byZod = (body: unknown) => parseWith(createRequestBody, body);

/** A body as the route sees it: the value JSON.parse gives for its text. */
const asJson = (value: unknown): unknown => {
  const parsed = parseJsonText(JSON.stringify(value));
  return parsed.ok ? parsed.value : undefined;
};

function nested(depth: number, leaf: unknown = 1): unknown {
  let value: unknown = leaf;
  for (let i = 0; i < depth; i++) value = i % 2 ? [value] : { k: value };
  return value;
}

const edgeStrings = fc.constantFrom(
  '',
  'x',
  'Bash',
  'é',
  '😀',
  '\ud800',
  'a"b\\c',
  'x'.repeat(LIMITS.maxToolNameLength),
  'x'.repeat(LIMITS.maxToolNameLength + 1),
);
const leaf = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 12 }),
  edgeStrings,
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
);
const json = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, leaf, tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 4 }),
  object: fc.dictionary(
    fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('sessionId', 'agent', 'cwd', 'toolUseId', 'description', 'suggestions', '1', '0')),
    tie('value'),
    { maxKeys: 5 },
  ),
})).value;
const contextValue = fc.oneof(
  json,
  fc.record(
    {
      sessionId: fc.oneof(edgeStrings, leaf),
      agent: fc.oneof(edgeStrings, fc.string({ maxLength: LIMITS.maxIdLength + 2 })),
      cwd: fc.oneof(edgeStrings, fc.constant('/'.repeat(4097)), fc.constant('/'.repeat(4096))),
      toolUseId: edgeStrings,
      description: fc.oneof(edgeStrings, fc.constant('d'.repeat(LIMITS.maxMessageLength + 1))),
      suggestions: fc.oneof(fc.array(json, { maxLength: 3 }), json),
      extra: json,
      deep: fc.constantFrom(nested(LIMITS.maxInputDepth - 1), nested(LIMITS.maxInputDepth), nested(LIMITS.maxInputDepth + 1)),
    },
    { requiredKeys: [] },
  ),
);
const okString = (max: number) => fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('é', '😀', '\ud800', 'x'.repeat(max)));
/** Mostly bodies zod accepts, near their limits: the fast path's own ground. */
const validBody = fc.record(
  {
    toolName: fc.oneof(fc.string({ minLength: 1, maxLength: 10 }), fc.constantFrom('Bash', '😀', 'x'.repeat(LIMITS.maxToolNameLength))),
    input: fc.oneof(
      { arbitrary: fc.dictionary(fc.string({ maxLength: 6 }), json, { maxKeys: 6 }), weight: 12 },
      fc.constantFrom(
        { deep: nested(LIMITS.maxInputDepth - 1) },
        { big: 'b'.repeat(LIMITS.maxInputBytes - 10) },
        { big: 'é'.repeat(LIMITS.maxInputBytes / 2 - 5) },
      ),
    ),
    context: fc.record(
      {
        sessionId: okString(LIMITS.maxIdLength),
        agent: okString(LIMITS.maxIdLength),
        cwd: okString(4096),
        toolUseId: okString(LIMITS.maxIdLength),
        description: okString(LIMITS.maxMessageLength),
        suggestions: fc.array(json, { maxLength: 3 }),
        extra: json,
        '0': json,
        deep: fc.constant(nested(LIMITS.maxInputDepth - 1)),
      },
      { requiredKeys: [] },
    ),
    timeoutMs: fc.oneof(fc.integer({ min: LIMITS.minTimeoutMs, max: LIMITS.maxTimeoutMs }), fc.constantFrom(LIMITS.minTimeoutMs, LIMITS.maxTimeoutMs)),
    other: json,
  },
  { requiredKeys: ['toolName', 'input'] },
);
const body = fc.oneof(
  { arbitrary: validBody, weight: 4 },
  json,
  fc.record(
    {
      toolName: fc.oneof(edgeStrings, leaf),
      input: fc.oneof(
        { arbitrary: fc.dictionary(fc.string({ maxLength: 6 }), json, { maxKeys: 6 }), weight: 8 },
        { arbitrary: json, weight: 4 },
        fc.constantFrom(
          nested(LIMITS.maxInputDepth),
          nested(LIMITS.maxInputDepth + 1),
          { big: 'b'.repeat(LIMITS.maxInputBytes - 9) },
          { big: '😀'.repeat(LIMITS.maxInputBytes / 4 - 2) },
        ),
      ),
      context: contextValue,
      timeoutMs: fc.oneof(
        fc.integer(),
        fc.constantFrom(LIMITS.minTimeoutMs - 1, LIMITS.minTimeoutMs, LIMITS.maxTimeoutMs, LIMITS.maxTimeoutMs + 1, 1.5, -0, 2 ** 53),
        leaf,
      ),
      other: json,
    },
    { requiredKeys: [] },
  ),
);

describe('the create body by hand, zod as the judge (CORE-F10)', () => {
  it('CORE-F10: every body gets the answer zod gives (the value, key for key and in order, or the same error); an accepted one also its input size', () => {
    let accepted = 0;
    let fastTaken = 0;
    fc.assert(
      fc.property(body, (raw) => {
        const value = asJson(raw);
        const expected = byZod(value);
        const got = parseCreateBody(value);
        expect(got.ok).toBe(expected.ok);
        if (!got.ok || !expected.ok) {
          expect(got).toEqual(expected);
          return;
        }
        expect(JSON.stringify(got.value)).toBe(JSON.stringify(expected.value));
        expect(got.value).toEqual(expected.value);
        accepted++;
        const fast = fastCreateBody(value);
        if (fast) {
          fastTaken++;
          expect(fast.inputBytes).toBe(jsonByteLength(expected.value.input));
        }
      }),
      { numRuns: 2000, seed: 10_010 },
    );
    // Every body zod accepts is one the hand check proves (none is left to zod), and the
    // runs hold enough of them to say so.
    expect(accepted).toBeGreaterThan(800);
    expect(fastTaken).toBe(accepted);
  });

  it('CORE-F10: the bodies agents send take the fast path (not zod), and the limits send them to zod', () => {
    const typical = {
      toolName: 'Bash',
      input: { command: 'ls -la', description: 'list' },
      context: { sessionId: 's1', cwd: '/work', agent: 'claude-code', toolUseId: 't1', suggestions: [{ type: 'addRules' }], extra: { a: 1 } },
      timeoutMs: 30_000,
      ignored: true,
    };
    const fast = fastCreateBody(asJson(typical));
    expect(fast?.value).toEqual(byZod(asJson(typical)).ok && (byZod(asJson(typical)) as { value: unknown }).value);
    expect(Object.keys(fast?.value.context ?? {})).toEqual(['sessionId', 'agent', 'cwd', 'toolUseId', 'suggestions', 'extra']);
    expect(fastCreateBody(asJson({ toolName: 'Read', input: {} }))?.value).toEqual({ toolName: 'Read', input: {} });
    // Each of these is zod's to judge (and each is refused, with zod's message).
    for (const refused of [
      { toolName: 'Bash', input: nested(LIMITS.maxInputDepth + 1) },
      { toolName: 'Bash', input: { big: 'b'.repeat(LIMITS.maxInputBytes) } },
      { toolName: 'Bash', input: {}, context: { extra: nested(LIMITS.maxInputDepth + 1) } },
      { toolName: 'Bash', input: {}, timeoutMs: LIMITS.maxTimeoutMs + 1 },
      { toolName: '', input: {} },
      { toolName: 'Bash', input: [] },
    ]) {
      expect(fastCreateBody(asJson(refused))).toBeUndefined();
      const answer = parseCreateBody(asJson(refused));
      expect(answer.ok).toBe(false);
      expect(answer).toEqual(byZod(asJson(refused)));
    }
    // At each limit the fast path accepts; one past it, zod refuses.
    const at = (over: number) => [
      { toolName: 'x'.repeat(LIMITS.maxToolNameLength + over), input: {} },
      { toolName: 'Bash', input: { big: 'b'.repeat(LIMITS.maxInputBytes - 10 + over) } },
      { toolName: 'Bash', input: { big: '😀'.repeat(LIMITS.maxInputBytes / 4 - 3) + 'é'.repeat(1 + over) } },
      { toolName: 'Bash', input: { deep: nested(LIMITS.maxInputDepth - 1 + over) } },
      { toolName: 'Bash', input: {}, context: { deep: nested(LIMITS.maxInputDepth - 1 + over) } },
      { toolName: 'Bash', input: {}, context: { sessionId: 's'.repeat(LIMITS.maxIdLength + over) } },
      { toolName: 'Bash', input: {}, context: { agent: 'a'.repeat(LIMITS.maxIdLength + over) } },
      { toolName: 'Bash', input: {}, context: { toolUseId: 't'.repeat(LIMITS.maxIdLength + over) } },
      { toolName: 'Bash', input: {}, context: { cwd: '/'.repeat(4096 + over) } },
      { toolName: 'Bash', input: {}, context: { description: 'd'.repeat(LIMITS.maxMessageLength + over) } },
      { toolName: 'Bash', input: {}, timeoutMs: LIMITS.maxTimeoutMs + over },
      { toolName: 'Bash', input: {}, timeoutMs: LIMITS.minTimeoutMs - over },
    ];
    for (const ok of at(0)) {
      const zod = byZod(asJson(ok));
      expect(zod.ok, JSON.stringify(ok).slice(0, 80)).toBe(true);
      expect(fastCreateBody(asJson(ok))?.value, JSON.stringify(ok).slice(0, 80)).toEqual(zod.ok && zod.value);
    }
    for (const over of at(1)) {
      expect(fastCreateBody(asJson(over)), JSON.stringify(over).slice(0, 80)).toBeUndefined();
      expect(byZod(asJson(over)).ok).toBe(false);
    }
    // A value JSON.parse cannot make (not a plain object) is zod's too.
    expect(fastCreateBody({ toolName: 'x', input: Object.create(null) })).toBeUndefined();
  });
});
