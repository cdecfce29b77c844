/**
 * Ending an agent's processes on the server's stop (SPEC.md ACP-12). An agent runs in a
 * process group of its own (`spawn` with `detached: true`, see `AGENT_SPAWN`): the Gemini
 * CLI, for one, runs itself again in a child process, and Claude Code runs inside
 * claude-agent-acp, so the process the server started is not the only one writing under
 * the agent's HOME. The whole group gets SIGTERM, and SIGKILL what is left `graceMs`
 * later; the returned promise resolves once no process of the group is left (or a
 * second `graceMs` has passed), so what the agent writes as it exits is written before
 * the server's stop returns.
 */
import type { ChildProcess } from 'node:child_process';

/** How long an agent has to exit after SIGTERM before it gets SIGKILL, and then to go. */
export const EXIT_GRACE_MS = 3_000;

/** How often the group is looked at once its leader exited (no event says the rest did). */
const GROUP_CHECK_MS = 25;

/** Spawn options of an agent's process: a group of its own, ended whole by `endProcess`. */
export const AGENT_SPAWN = { detached: true } as const;

export async function endProcess(child: ChildProcess, graceMs = EXIT_GRACE_MS): Promise<void> {
  const pid = child.pid;
  if (pid === undefined) return; // never started
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-pid, signal);
    } catch {
      // the group is gone
    }
  };
  const groupAlive = () => {
    try {
      process.kill(-pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const leaderExited = () => child.exitCode !== null || child.signalCode !== null;
  const gone = async (deadline: number) => {
    if (!leaderExited()) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    while (groupAlive() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, GROUP_CHECK_MS));
    return !groupAlive();
  };
  if (!groupAlive() && leaderExited()) return;
  signalGroup('SIGTERM');
  if (await gone(Date.now() + graceMs)) return;
  signalGroup('SIGKILL');
  await gone(Date.now() + graceMs);
}
