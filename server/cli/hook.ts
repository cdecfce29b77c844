/**
 * `gatehouse hook`: a Claude Code command hook for `PermissionRequest` (recommended: it
 * fires only where Claude Code would ask) and `PreToolUse`. Reads the hook JSON on stdin,
 * asks the Gatehouse server over HTTP, prints the decision in the event's shape on
 * stdout, and nothing else there (logs go to stderr, only with DEBUG=hook).
 *
 * It holds the agent token only (GATEHOUSE_AGENT_TOKEN, else `<data-dir>/agent-token`)
 * and sends it only after the server proved it knows it (`POST /api/agent/hello`). With
 * no agent token, or a server that is down, silent or cannot prove itself, it steps
 * aside within 3 s (`ask` / `{}`), and a circuit breaker kept in
 * `<data-dir>/hook-breaker.json` makes the next calls step aside at once until a
 * cool-down has passed. See docs/integrations.md.
 *
 *   --timeout SECONDS   the hook timeout configured in Claude Code (GATEHOUSE_HOOK_TIMEOUT,
 *                       default 60, Claude Code's own default); the request asks for a
 *                       `timeoutMs` below it so the server's timeout deny arrives first.
 *   --agent codex       read and answer Codex's PermissionRequest hook instead
 *                       (server/agents/hook/codexHook.ts; `gatehouse setup codex` writes it).
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { askGatehouse } from '../agents/client/ask.ts';
import { Breaker } from '../agents/client/breaker.ts';
import { debugLog, loadClientConfig } from '../agents/client/config.ts';
import { PinnedServer } from '../agents/client/pinned.ts';
import {
  AFTER_EVENTS,
  CLAUDE_HOOK_PATH,
  outputOf,
  parseHookInput,
  requestSpecOf,
  requestTimeoutFor,
  stepAside,
  type HookOutput,
} from '../agents/hook/claudeHook.ts';
import { CODEX_STEP_ASIDE, codexOutputOf, codexRequestSpecOf, parseCodexHookInput } from '../agents/hook/codexHook.ts';

/** One agent's hook shape: how its stdin is read and its stdout written. */
type HookShape = {
  parse(text: string):
    | {
        ok: true;
        spec: (timeoutMs: number) => ReturnType<typeof requestSpecOf>;
        output: (outcome: Parameters<typeof outputOf>[1]) => HookOutput;
        aside: (reason: string) => HookOutput;
      }
    | { ok: false; error: string; aside: HookOutput };
};

const SHAPES: Record<'claude' | 'codex', HookShape> = {
  claude: {
    parse(text) {
      const parsed = parseHookInput(text);
      if (!parsed.ok) return { ok: false, error: parsed.error, aside: stepAside(parsed.event, 'could not read the hook input') };
      const input = parsed.value;
      return {
        ok: true,
        spec: (timeoutMs) => requestSpecOf(input, timeoutMs),
        output: (outcome) => outputOf(input.hook_event_name, outcome),
        aside: (reason) => stepAside(input.hook_event_name, reason),
      };
    },
  },
  codex: {
    parse(text) {
      const parsed = parseCodexHookInput(text);
      if (!parsed.ok) return { ok: false, error: parsed.error, aside: CODEX_STEP_ASIDE };
      const input = parsed.value;
      return {
        ok: true,
        spec: (timeoutMs) => codexRequestSpecOf(input, timeoutMs),
        output: (outcome) => codexOutputOf(input, outcome),
        aside: () => CODEX_STEP_ASIDE,
      };
    },
  },
};

export const HOOK_DEFAULTS = {
  /** Claude Code's default command-hook timeout, in seconds. */
  hookTimeoutSeconds: 60,
  /** The hello plus creating the request: with process start-up, a silent server costs under 3 s. */
  connectTimeoutMs: 1000,
  breakerCooldownMs: 30_000,
  maxStdinBytes: 2 << 20,
  stdinTimeoutMs: 5000,
} as const;

export { requestTimeoutFor };

function positiveNumber(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const number = Number(value);
  return Number.isFinite(number) && number > 0 ? number : undefined;
}

function readStdin(maxBytes: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = () => {
      clearTimeout(timer);
      process.stdin.off('data', onData);
      process.stdin.off('end', done);
      process.stdin.off('error', done);
      process.stdin.pause();
      resolve(Buffer.concat(chunks).toString('utf8'));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        chunks.length = 0;
        chunks.push(Buffer.from('!too large'));
        done();
        return;
      }
      chunks.push(chunk);
    };
    const timer = setTimeout(done, timeoutMs);
    process.stdin.on('data', onData);
    process.stdin.once('end', done);
    process.stdin.once('error', done);
  });
}

function print(output: HookOutput): Promise<void> {
  return new Promise((resolve) => process.stdout.write(JSON.stringify(output) + '\n', () => resolve()));
}

/** An "answered elsewhere" event (PostToolUse, PostToolUseFailure, PermissionDenied,
 *  Stop) as parsed JSON; undefined for anything else. */
function afterEventOf(text: string): Record<string, unknown> | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  const name = (raw as { hook_event_name?: unknown } | null)?.hook_event_name;
  return typeof name === 'string' && (AFTER_EVENTS as readonly string[]).includes(name) ? (raw as Record<string, unknown>) : undefined;
}

/** Forwards an after-event to `POST /api/hooks/claude` (the server cancels the request
 *  the human answered in the terminal) and prints `{}`. Runs as an async hook, so it
 *  never holds Claude Code up; a server that is down or unproven gets nothing. */
async function forwardAfterEvent(
  event: Record<string, unknown>,
  config: ReturnType<typeof loadClientConfig>,
  connectTimeoutMs: number,
  log: (message: string) => void,
): Promise<number> {
  if (config.agentToken) {
    const server = new PinnedServer({ baseUrl: config.baseUrl, agentToken: config.agentToken, log });
    try {
      const answer = await server.call('POST', CLAUDE_HOOK_PATH, { body: event, timeoutMs: connectTimeoutMs + 2000 });
      log(`forwarded ${String(event.hook_event_name)}: ${answer.status}`);
    } catch (error) {
      log(`could not forward ${String(event.hook_event_name)}: ${(error as Error).message}`);
    } finally {
      server.close();
    }
  }
  await print({});
  return 0;
}

export default async function main(argv: string[]): Promise<number> {
  const env = process.env;
  const config = loadClientConfig(env);
  const log = debugLog(config.debug, 'hook');
  let flags: { timeout?: string; agent?: string };
  try {
    flags = parseArgs({ args: argv, options: { timeout: { type: 'string' }, agent: { type: 'string' } }, allowPositionals: false, strict: true }).values;
  } catch (error) {
    process.stderr.write(`gatehouse hook: ${(error as Error).message}\n`);
    flags = {};
  }
  if (flags.agent !== undefined && flags.agent !== 'claude' && flags.agent !== 'codex') {
    process.stderr.write(`gatehouse hook: --agent must be claude or codex, got ${JSON.stringify(flags.agent)}; stepping aside\n`);
    await print({});
    return 0;
  }
  const shape = SHAPES[flags.agent ?? 'claude'];
  const hookTimeoutSeconds = positiveNumber(flags.timeout) ?? positiveNumber(env.GATEHOUSE_HOOK_TIMEOUT) ?? HOOK_DEFAULTS.hookTimeoutSeconds;
  const timeoutMs = Math.round(positiveNumber(env.GATEHOUSE_HOOK_REQUEST_TIMEOUT_MS) ?? requestTimeoutFor(hookTimeoutSeconds));
  const connectTimeoutMs = positiveNumber(env.GATEHOUSE_HOOK_CONNECT_TIMEOUT_MS) ?? HOOK_DEFAULTS.connectTimeoutMs;
  const cooldownMs = positiveNumber(env.GATEHOUSE_HOOK_BREAKER_COOLDOWN_MS) ?? HOOK_DEFAULTS.breakerCooldownMs;
  const started = Date.now();

  const text = await readStdin(HOOK_DEFAULTS.maxStdinBytes, HOOK_DEFAULTS.stdinTimeoutMs);
  // Claude Code's after-events (the human answered in the terminal) go to the server as they are.
  const after = (flags.agent ?? 'claude') === 'claude' ? afterEventOf(text) : undefined;
  if (after) return forwardAfterEvent(after, config, connectTimeoutMs, log);
  const parsed = shape.parse(text);
  if (!parsed.ok) {
    process.stderr.write(`gatehouse hook: cannot read the hook input (${parsed.error}); stepping aside\n`);
    await print(parsed.aside);
    return 0;
  }
  if (!config.agentToken) {
    // Like a server that is down: the agent's own permission flow decides.
    process.stderr.write(`gatehouse hook: ${config.missingToken}; stepping aside\n`);
    await print(parsed.aside(config.missingToken ?? 'no agent token'));
    return 0;
  }

  const breaker =
    env.GATEHOUSE_HOOK_BREAKER === 'off' ? undefined : new Breaker({ path: join(config.dataDir, 'hook-breaker.json'), url: config.baseUrl, cooldownMs });
  const verdict = breaker?.check();
  if (verdict?.skip) {
    log(`breaker open until ${new Date(verdict.openUntil).toISOString()}: skipping the server`);
    await print(parsed.aside(`the server is unavailable (${verdict.reason}); skipping it for now`));
    return 0;
  }

  // Killed (Claude Code's hook timeout, or the user interrupted): cancel our request.
  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) process.exit(1);
    controller.abort();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  const server = new PinnedServer({ baseUrl: config.baseUrl, agentToken: config.agentToken, log });
  try {
    const outcome = await askGatehouse(parsed.spec(timeoutMs), {
      server,
      createTimeoutMs: connectTimeoutMs,
      // Past the server's deadline, keep listening a little for its timeout deny.
      giveUpAt: started + timeoutMs + Math.min(5000, Math.max(0, hookTimeoutSeconds * 1000 - timeoutMs) / 2),
      signal: controller.signal,
      log,
    });
    if (breaker) {
      if (outcome.kind === 'unavailable' && outcome.down) breaker.failure(outcome.reason);
      else if (outcome.kind !== 'unavailable' || !outcome.down) breaker.success();
    }
    // Something else answers at GATEHOUSE_URL: say so (a down server stays quiet, HOOK-5).
    if (outcome.kind === 'unavailable' && outcome.unproven) process.stderr.write(`gatehouse hook: ${outcome.reason}; stepping aside\n`);
    else if (outcome.kind === 'unavailable') log(`${outcome.reason}; stepping aside`);
    log(`outcome ${JSON.stringify(outcome)}`);
    await print(parsed.output(outcome));
  } finally {
    server.close();
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
  return 0;
}
