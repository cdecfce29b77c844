/**
 * A snapshot in parts, in a real browser (contract-2 §3): with a small frame limit, the
 * unresolved requests reach the page across several frames; every one shows once, and the
 * live stream follows.
 */
import { bash, card, expect, openApp, test } from './support/gatehouse.ts';

test.use({ serverArgs: ['--agent', 'demo', '--max-frame-bytes', '16384'] });

test('LIM-2 LIM-3: a snapshot in parts shows every unresolved request once, then live requests and decisions work', async ({ page, gatehouse }) => {
  const ids: string[] = [];
  // About 60 KiB of requests: four or more frames of at most 16 KiB.
  for (let i = 0; i < 30; i++) ids.push(await gatehouse.createRequest(bash(`echo ${i} ${'x'.repeat(2_000)}`)));
  const frames: string[] = [];
  page.on('websocket', (ws) => ws.on('framereceived', (f) => frames.push(String(f.payload))));
  await openApp(page, gatehouse);
  await expect(page.getByTestId('request-card')).toHaveCount(30);
  for (const id of ids) await expect(card(page, id)).toHaveCount(1);
  const types = frames.map((f) => JSON.parse(f).type as string);
  expect(types.filter((t) => t === 'snapshot-part').length).toBeGreaterThanOrEqual(3);
  for (const f of frames) expect(Buffer.byteLength(f)).toBeLessThanOrEqual(16384);

  const live = await gatehouse.createRequest(bash('echo live after the parts'));
  await expect(card(page, live)).toHaveCount(1);
  const outcome = gatehouse.outcome(ids[0]!);
  await card(page, ids[0]!).getByRole('button', { name: 'Allow', exact: true }).click();
  expect(await outcome).toMatchObject({ status: 'resolved', decision: 'allow' });
  await expect(page.getByTestId('request-card')).toHaveCount(30);
});
