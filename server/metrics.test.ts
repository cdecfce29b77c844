import { describe, expect, it } from 'vitest';
import { BrokerHost } from './brokerHost.ts';
import { silentLogger } from './log.ts';
import { cancelReasonLabel, closedLabel, createMetrics, decisionChannelLabel } from './metrics.ts';
import { SqliteEventStore } from './store/sqliteStore.ts';

describe('metric labels', () => {
  it('LIM-6: 1,000 distinct cancel reasons leave the series count bounded: known reasons keep their name, the rest are other', async () => {
    const metrics = createMetrics();
    const store = new SqliteEventStore({ dataDir: ':memory:' });
    const host = new BrokerHost({ store, logger: silentLogger, metrics }, store.loadNow({ now: Date.now() }));
    const created = await Promise.all(
      Array.from({ length: 1_001 }, (_, i) => host.create({ toolName: 'Bash', input: { command: `echo ${i}` }, timeoutMs: 60_000, origin: 'http' })),
    );
    const ids = created.map((c) => (c as { id: string }).id);
    await Promise.all(ids.slice(0, 1_000).map((id, i) => host.cancel({ requestId: id, reason: `reason-${i}-${'x'.repeat(i % 50)}`, cancelledBy: 'http' })));
    await host.cancel({ requestId: ids[1_000]!, reason: 'server-restart', cancelledBy: 'server' });
    const text = await metrics.registry.metrics();
    const series = text.split('\n').filter((line) => line.startsWith('gatehouse_cancellations_total{'));
    expect(series.sort()).toEqual(['gatehouse_cancellations_total{reason="other"} 1000', 'gatehouse_cancellations_total{reason="server-restart"} 1']);
    await host.stop();
  });

  it('LIM-6: every label helper maps to a closed set', () => {
    expect(cancelReasonLabel('agent-cancelled')).toBe('agent-cancelled');
    expect(cancelReasonLabel('answered-in-editor')).toBe('answered-in-editor');
    expect(cancelReasonLabel('anything else')).toBe('other');
    expect(decisionChannelLabel('ws')).toBe('ws');
    expect(decisionChannelLabel(undefined)).toBe('other');
    expect(decisionChannelLabel('x'.repeat(100))).toBe('other');
    expect(closedLabel('b', ['a', 'b'] as const)).toBe('b');
  });
});
