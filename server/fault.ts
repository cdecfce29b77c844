/**
 * Test-only fault switch for the chaos suite: `GATEHOUSE_FAULT=<point>` makes the process
 * kill itself with SIGKILL at that exact point, after writing the marker line
 * `GATEHOUSE_FAULT_REACHED <point>` to stderr (synchronously, so the test sees it).
 * Ignored unless set. Points:
 * - `after-persist-before-send`: a tick's records are committed, no socket has seen them.
 * - `after-send-before-ack`: events were written to sockets, callers not yet answered.
 * - `during-decision-store`: a tick holding a decision is being written (before commit).
 */
import { writeSync } from 'node:fs';
import type { FaultPoint } from './config.ts';

export type FaultSwitch = (point: FaultPoint) => void;

export function createFaultSwitch(armed: FaultPoint | undefined): FaultSwitch {
  if (!armed) return () => {};
  return (point) => {
    if (point !== armed) return;
    try {
      writeSync(2, `GATEHOUSE_FAULT_REACHED ${point}\n`);
    } finally {
      process.kill(process.pid, 'SIGKILL');
    }
  };
}
