/**
 * Measures one request's lifecycle through the brokerClient (create -> sent -> ack ->
 * decide -> finished) with a no-op persist, with 0 and with many requests waiting.
 * Not a test: `node_modules/.bin/tsx machines/testing/measureLifecycle.ts`.
 */
import { createActor } from 'xstate';
import { brokerMachine } from '../broker.machine.ts';
import { createBrokerClient } from '../brokerClient.ts';
import { permissionRequestMachine } from '../permissionRequest.machine.ts';

/** Calibration: one bare request actor (create, start, sent, acked, decide), no broker. */
function measureBareChild(rounds: number): number {
  const logic = permissionRequestMachine.provide({ actions: { notifyParent: () => {} } });
  const once = () => {
    const at = Date.now();
    const actor = createActor(logic, {
      input: { id: 'x', toolName: 'Bash', input: {}, context: {}, timestamp: at, expiresAt: at + 3_600_000 },
    }).start();
    actor.send({ type: 'request.sent', at });
    actor.send({ type: 'request.acked', at });
    actor.send({ type: 'permission.decide', at, decision: 'allow', decidedBy: 'bench' });
  };
  for (let i = 0; i < 2000; i++) once();
  const t0 = performance.now();
  for (let i = 0; i < rounds; i++) once();
  return ((performance.now() - t0) * 1000) / rounds;
}

function measure(waiting: number, rounds: number): { wallUs: number; cpuUs: number } {
  const actor = createActor(brokerMachine, {
    input: { epoch: 'bench', headSeq: 0, now: Date.now(), unresolved: [], finished: [], clientAnswers: [] },
  }).start();
  const client = createBrokerClient(actor);
  client.connect({ at: Date.now(), clientId: 'c', label: 'bench' });
  const spec = (id: string) => ({ id, toolName: 'Bash', input: { command: 'ls' }, context: {}, timeoutMs: 3_600_000 });
  for (let i = 0; i < waiting; i++) client.create({ at: Date.now(), request: spec(`bg${i}`), origin: 'http' });
  let n = 0;
  const once = () => {
    const at = Date.now();
    const created = client.create({ at, request: spec(`r${n++}`), origin: 'http' });
    if (created.status !== 'created') throw new Error('not created');
    client.markSent({ at, upToSeq: created.seq });
    client.ack({ at, clientId: 'c', seq: created.seq });
    const { answer } = client.decide({ at, requestId: created.id, decision: 'allow', decidedBy: 'bench', clientMsgId: `m${n}` });
    if (answer.status !== 'accepted') throw new Error('not accepted');
  };
  for (let i = 0; i < 2000; i++) once(); // warm up
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < rounds; i++) once();
  const wallUs = ((performance.now() - t0) * 1000) / rounds;
  const cpu = process.cpuUsage(cpu0);
  actor.stop();
  return { wallUs, cpuUs: (cpu.user + cpu.system) / rounds };
}

console.log(`calibration, a bare request actor alone: ${measureBareChild(20_000).toFixed(1)} us wall`);
for (const waiting of [0, 1_000, 10_000]) {
  const { wallUs, cpuUs } = measure(waiting, 20_000);
  console.log(`${waiting} waiting: ${wallUs.toFixed(1)} us wall, ${cpuUs.toFixed(1)} us cpu per lifecycle`);
}
