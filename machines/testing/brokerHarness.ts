/**
 * A broker wired for tests: a SimulatedClock, a MemoryStore bound as `persist`, and one
 * log of everything persisted and emitted, in the order it happened.
 */
import { createActor, SimulatedClock } from 'xstate';
import type { SequencedEvent } from '../../protocol/index.ts';
import { brokerMachine, type BrokerActor } from '../broker.machine.ts';
import type { BrokerEmitted, BrokerInput, PersistRecord } from '../broker.types.ts';
import { createBrokerClient, driveDeadlines, type BrokerClient } from '../brokerClient.ts';
import { MemoryStore } from './memoryStore.ts';

export type LogEntry = { kind: 'persist'; record: PersistRecord } | { kind: 'emit'; emitted: BrokerEmitted };

export type TestBroker = {
  actor: BrokerActor;
  client: BrokerClient;
  clock: SimulatedClock;
  store: MemoryStore;
  log: LogEntry[];
  /** Every `stream.event` emitted so far, in order. */
  streamEvents(): SequencedEvent[];
  now(): number;
  stop(): void;
};

export const T0 = 1_700_000_000_000;

type ScheduledTimer = { start: number; timeout: number };

/** The timers still scheduled on a SimulatedClock, by id (its map is private in the typings). */
export function scheduledTimers(clock: SimulatedClock): Map<unknown, ScheduledTimer> {
  return (clock as unknown as { timeouts: Map<unknown, ScheduledTimer> }).timeouts;
}

/** How many timers are still scheduled on a SimulatedClock. */
export function pendingTimers(clock: SimulatedClock): number {
  return scheduledTimers(clock).size;
}

export function startTestBroker(
  options: {
    store?: MemoryStore;
    clock?: SimulatedClock;
    recentLimit?: number;
    log?: LogEntry[];
    /** Changes what the store loaded before the broker starts (e.g. a cluster role). */
    adjust?: (input: BrokerInput) => BrokerInput;
  } = {},
): TestBroker {
  const clock = options.clock ?? new SimulatedClock();
  if (clock.now() < T0) clock.set(T0);
  const store = options.store ?? new MemoryStore();
  const log: LogEntry[] = options.log ?? [];
  const machine = brokerMachine.provide({
    actions: {
      persist: (_, record: PersistRecord) => {
        store.apply(record);
        log.push({ kind: 'persist', record });
      },
    },
  });
  const loaded: BrokerInput = { ...store.load(clock.now(), options.recentLimit), requestActors: { clock } };
  const actor = createActor(machine, { input: options.adjust ? options.adjust(loaded) : loaded, clock });
  actor.on('*', (emitted) => log.push({ kind: 'emit', emitted }));
  actor.subscribe({
    error: (error) => {
      throw error;
    },
  });
  actor.start();
  // What the host does for the deadlines: one timer for the earliest (broker.machine.ts).
  driveDeadlines(actor, clock, () => clock.now());
  const client = createBrokerClient(actor);
  return {
    actor,
    client,
    clock,
    store,
    log,
    streamEvents: () => log.flatMap((entry) => (entry.kind === 'emit' && entry.emitted.type === 'stream.event' ? [entry.emitted.event] : [])),
    now: () => clock.now(),
    stop: () => actor.stop(),
  };
}
