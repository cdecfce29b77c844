/**
 * Measures what permessage-deflate costs and saves for Gatehouse's frames:
 * `node_modules/.bin/tsx server/ws/measureDeflate.ts`. Sends the same permission-request
 * frames over loopback with and without deflate (the server's options: threshold 1 KiB,
 * no context takeover) and prints wire bytes and time per frame.
 */
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';

type Result = { label: string; frames: number; payloadBytes: number; wireBytes: number; ms: number };

async function run(label: string, frame: string, count: number, deflate: boolean): Promise<Result> {
  const server = new WebSocketServer({
    port: 0,
    host: '127.0.0.1',
    perMessageDeflate: deflate ? { threshold: 1024, serverNoContextTakeover: true, clientNoContextTakeover: true } : false,
  });
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const client = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: deflate });
  const [socket] = (await once(server, 'connection')) as [WebSocket];
  await once(client, 'open');
  let received = 0;
  const done = new Promise<void>((resolve) => client.on('message', () => ++received === count && resolve()));
  const raw = (socket as unknown as { _socket: import('node:net').Socket })._socket;
  const before = raw.bytesWritten;
  const started = process.hrtime.bigint();
  for (let i = 0; i < count; i++) socket.send(frame);
  await done;
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const wireBytes = raw.bytesWritten - before;
  client.close();
  server.close();
  return { label: `${label} ${deflate ? 'deflate' : 'plain'}`, frames: count, payloadBytes: frame.length * count, wireBytes, ms };
}

function requestFrame(input: Record<string, unknown>): string {
  return JSON.stringify({
    type: 'permission-request',
    seq: 1,
    id: '0b7c1f3e-2f1a-4f7e-9a8b-1c2d3e4f5a6b',
    toolName: 'Write',
    input,
    context: { cwd: '/home/dev/project', sessionId: 's-1' },
    timestamp: Date.now(),
    expiresAt: Date.now() + 120_000,
  });
}

const source = readFileSync(new URL('./hub.ts', import.meta.url), 'utf8');
const cases: Array<[string, string]> = [
  ['small Bash (200 B)', requestFrame({ command: 'npm test -- --run server/ws' })],
  [
    'Write of a source file (~' + Math.round(source.length / 1024) + ' KiB)',
    requestFrame({ file_path: '/home/dev/project/server/ws/hub.ts', content: source }),
  ],
  ['Write of 200 KiB of source', requestFrame({ file_path: '/x.ts', content: source.repeat(Math.ceil((200 << 10) / source.length)).slice(0, 200 << 10) })],
];
const results: Result[] = [];
for (const [label, frame] of cases) {
  for (const deflate of [false, true]) results.push(await run(label, frame, 200, deflate));
}
for (const r of results) {
  console.log(
    `${r.label.padEnd(52)} ${(r.wireBytes / r.frames / 1024).toFixed(1).padStart(8)} KiB/frame on the wire  ` +
      `(${((100 * r.wireBytes) / r.payloadBytes).toFixed(0)}% of payload)  ${(r.ms / r.frames).toFixed(3)} ms/frame`,
  );
}
