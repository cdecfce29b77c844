/**
 * The HTTP create measures a request's input once (CORE-F10) and hands the host its
 * bytes (CORE-F11): the host's count and bytes of unresolved requests are exactly what
 * it measures itself, and its byte limit refuses at the same request.
 */
import { describe, expect, it } from 'vitest';
import { parseCreateBody, requestByteLength } from '../../protocol/index.ts';
import { BrokerHost } from '../brokerHost.ts';
import { silentLogger } from '../log.ts';
import { SqliteEventStore } from '../store/sqliteStore.ts';
import { createRequest } from './createRequest.ts';

async function makeHost(maxUnresolvedBytes: number) {
  const store = new SqliteEventStore({ dataDir: ':memory:' });
  const host = await BrokerHost.open({ store, logger: silentLogger, limits: { maxUnresolved: 100, maxUnresolvedBytes } });
  return { host, store };
}

describe('the HTTP create hands the host its bytes (CORE-F11)', () => {
  it('CORE-F11: the unresolved bytes after HTTP creates (sizes measured by the route) equal requestByteLength of each, and the byte limit refuses at the same create', async () => {
    const inputs = [{ command: 'ls' }, { text: 'é😀\ud800"\\' }, { content: 'x'.repeat(1000) }];
    const contexts = [{}, { agent: 'a', cwd: '/é' }, { suggestions: [{ a: 1 }] }];
    const expected = inputs.reduce((sum, input, i) => sum + requestByteLength({ input, context: contexts[i] }), 0);
    const { host, store } = await makeHost(expected);
    for (const [i, input] of inputs.entries()) {
      const context = contexts[i] ?? {};
      // As the route does: the body checked (CORE-F10), its input's size passed on.
      const parsed = parseCreateBody({ toolName: 'Bash', input, context });
      if (!parsed.ok || parsed.inputBytes === undefined) throw new Error('expected the fast check to take the body');
      const created = await createRequest(
        { host, store },
        { toolName: 'Bash', input: parsed.value.input, context: parsed.value.context ?? {}, timeoutMs: 60_000, inputBytes: parsed.inputBytes },
      );
      expect(created.kind).toBe('created');
    }
    expect(host.unresolvedLoad()).toEqual({ count: 3, bytes: expected });
    // One byte more is beyond the limit: refused, nothing stored.
    const refused = await createRequest({ host, store }, { toolName: 'Bash', input: {}, context: {}, timeoutMs: 60_000 });
    expect(refused.kind).toBe('too-many');
    expect(host.unresolvedLoad().count).toBe(3);
    await host.stop();
    await store.close();
  });
});
