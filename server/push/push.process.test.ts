/**
 * Web Push through the real `serve` process (the CLI flags, the real clock): one push,
 * verified and decrypted by the fake push service. Separate from push.test.ts because a
 * server process takes a few seconds to start on a loaded machine.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startServerProcess } from '../testing/serverProcess.ts';
import { startFakePushService, type FakePushService } from './testing/fakePushService.ts';

const SECRET = 'SECRET-INPUT-7f3a';
let service: FakePushService;
beforeAll(async () => {
  service = await startFakePushService();
});
afterAll(async () => {
  await service.close();
});

it('PUSH-4 PUSH-10: the real server process, started with the push flags, pushes a request nobody holds (real clock, short delay)', async () => {
  const proc = await startServerProcess({
    args: ['--push-delay-ms', '50', '--push-allowed-origins', service.origin, '--push-subject', 'https://gatehouse.example.com/'],
  });
  try {
    service.trustKey((await proc.api('/api/push/key')).body.publicKey);
    const sub = service.newSubscription();
    expect((await proc.api('/api/push/subscriptions', { method: 'POST', json: { endpoint: sub.endpoint, keys: sub.keys } })).status).toBe(201);
    const created = await proc.api('/api/permission-requests', {
      method: 'POST',
      json: { toolName: 'Write', input: { file_path: '/etc/hosts', content: SECRET } },
    });
    expect(created.status).toBe(201);
    const [push] = await service.waitFor((p) => p.message?.id === created.body.id);
    expect(push?.error).toBeUndefined();
    expect(push?.message).toEqual({ type: 'permission-request', id: created.body.id, toolName: 'Write' });
    expect(push?.jwt?.payload.sub).toBe('https://gatehouse.example.com/');
    expect(push?.plaintext).not.toContain(SECRET);
  } finally {
    await proc.stop();
  }
});
