/** codexChatAgent.ts against a scripted stand-in for `codex app-server` (fakeAppServer.mjs):
 *  what the real Codex cannot be made to do on demand here (clear an ask itself), and the
 *  decision mapping. The real binary is driven in codexChat.test.ts. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { ChatMessage } from '../../../protocol/index.ts';
import type { AskExtra, TurnContext } from '../chatAgent.ts';
import type { GateAnswer } from '../permissionGate.ts';
import { askPermission, type GateHost } from '../permissionGate.ts';
import { AGENT_ABORTED, ANSWERED_IN_AGENT, createCodexAgent, decisionOf, unwrapShell } from './codexChatAgent.ts';

const FAKE = join(dirname(fileURLToPath(import.meta.url)), 'testing', 'fakeAppServer.mjs');
const dirs: string[] = [];
afterEach(() => {
  delete process.env.FAKE_SCRIPT;
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

type Asked = { toolName: string; input: Record<string, unknown>; extra: AskExtra };

async function runTurn(script: string, answer: (asked: Asked) => Promise<GateAnswer>) {
  process.env.FAKE_SCRIPT = script;
  const cwd = mkdtempSync(join(tmpdir(), 'gh-codex-fake-'));
  dirs.push(cwd);
  const agent = createCodexAgent({ bin: FAKE });
  const said: Array<Omit<ChatMessage, 'id'>> = [];
  const asked: Asked[] = [];
  const ctx: TurnContext = {
    session: { id: 's1', title: 't', agent: 'codex', cwd, status: 'running', createdAt: 0, updatedAt: 0 } as TurnContext['session'],
    prompt: 'hi',
    signal: new AbortController().signal,
    say: async (message) => {
      said.push(message);
      return { ...message, id: String(said.length) } as ChatMessage;
    },
    ask: (toolName, input, extra) => {
      const entry = { toolName, input, extra };
      asked.push(entry);
      return answer(entry);
    },
    setSdkSessionId: () => {},
  };
  try {
    await agent.runTurn(ctx);
  } finally {
    await agent.stop();
  }
  const decision = said.find((m) => m.kind === 'text' && m.text?.startsWith('decision:'))?.text?.slice('decision:'.length);
  return { said, asked, decision: decision ? JSON.parse(decision) : undefined };
}

describe('codex chat agent (scripted app-server)', () => {
  it('CODEX-9: Codex clearing an ask itself (serverRequest/resolved) aborts its request with reason answered-in-agent', async () => {
    let reason: unknown;
    const { asked, decision } = await runTurn(
      'resolved',
      ({ extra }) =>
        new Promise((resolve) => {
          extra.signal!.addEventListener(
            'abort',
            () => {
              reason = extra.signal!.reason;
              resolve({ behavior: 'deny', message: 'cancelled', outcome: 'cancelled', requestId: 'r' });
            },
            { once: true },
          );
        }),
    );
    expect(asked).toHaveLength(1);
    expect(reason).toBe(ANSWERED_IN_AGENT);
    expect(decision).toEqual({ decision: 'cancel' });
  });

  it('CODEX-9: the app-server dying ends its open requests (agent-aborted) and the turn with an error', async () => {
    let reason: unknown;
    const { asked, said } = await runTurn(
      'die',
      ({ extra }) =>
        new Promise((resolve) => {
          extra.signal!.addEventListener(
            'abort',
            () => {
              reason = extra.signal!.reason;
              resolve({ behavior: 'deny', message: 'cancelled', outcome: 'cancelled', requestId: 'r' });
            },
            { once: true },
          );
        }),
    );
    expect(asked).toHaveLength(1);
    expect(reason).toBe(AGENT_ABORTED);
    expect(said.at(-1)).toMatchObject({ kind: 'turn-end', isError: true });
    expect(said.some((m) => m.kind === 'error' && m.text?.includes('exited'))).toBe(true);
  });

  it("CODEX-9: the abort's reason is the cancel reason of the Gatehouse request", async () => {
    const cancels: unknown[] = [];
    const host: GateHost = {
      create: async () => ({ status: 'created', id: 'req-1' }),
      cancel: async (args) => cancels.push(args),
      awaitOutcome: () => new Promise(() => {}), // never answered: the test reads the cancels
    };
    const controller = new AbortController();
    const pending = askPermission(host, {
      toolName: 'Bash',
      input: { command: 'x' },
      context: {},
      timeoutMs: 1000,
      signal: controller.signal,
      onCreated: () => controller.abort(ANSWERED_IN_AGENT),
    });
    await expect.poll(() => cancels.length).toBe(1);
    expect(cancels[0]).toMatchObject({ requestId: 'req-1', reason: ANSWERED_IN_AGENT });
    void pending;
    // Any other reason (an SDK's own text or error) is agent-cancelled.
    for (const other of ['Tool use aborted', new Error('x')]) {
      const before = cancels.length;
      const abort = new AbortController();
      void askPermission(host, {
        toolName: 'Bash',
        input: { command: 'x' },
        context: {},
        timeoutMs: 1000,
        signal: abort.signal,
        onCreated: () => abort.abort(other),
      });
      await expect.poll(() => cancels.length).toBe(before + 1);
      expect(cancels.at(-1)).toMatchObject({ reason: 'agent-cancelled' });
    }
  });

  it('CODEX-5: availableDecisions travel in the context; an allow where Codex offers no plain accept is a decline, never acceptForSession', async () => {
    const { asked, decision } = await runTurn('offered', async ({ input }) => ({ behavior: 'allow', updatedInput: input, requestId: 'r', decidedBy: 'h' }));
    expect(asked[0]?.extra.context).toMatchObject({ availableDecisions: ['acceptForSession', 'cancel'], reason: 'why', itemId: 'call_1' });
    expect(decision).toEqual({ decision: 'decline' });
  });

  it('CODEX-7: a file change Codex never showed is declined without asking a human', async () => {
    const { asked, said, decision } = await runTurn('nodiff', async () => ({ behavior: 'allow', updatedInput: {}, requestId: 'r', decidedBy: 'h' }));
    expect(asked).toHaveLength(0);
    expect(decision).toEqual({ decision: 'decline' });
    expect(said.some((m) => m.kind === 'error' && m.text?.includes('without showing the change'))).toBe(true);
  });

  it('CODEX-6: the decision mapping: allow of the input shown is accept; edited, deny or timeout decline; cancelled cancel', () => {
    const input = { command: 'ls' };
    const allow = (updatedInput: Record<string, unknown>): GateAnswer => ({ behavior: 'allow', updatedInput, requestId: 'r', decidedBy: 'h' });
    expect(decisionOf(allow({ command: 'ls' }), input, ['accept', 'cancel'])).toBe('accept');
    expect(decisionOf(allow({ command: 'ls' }), input, undefined)).toBe('accept');
    expect(decisionOf(allow({ command: 'rm -rf /' }), input, ['accept'])).toBe('decline');
    expect(decisionOf(allow({ command: 'ls' }), input, ['acceptForSession'])).toBe('decline');
    expect(decisionOf({ behavior: 'deny', message: 'no', outcome: 'denied' }, input, ['accept'])).toBe('decline');
    expect(decisionOf({ behavior: 'deny', message: 'late', outcome: 'timedOut' }, input, ['accept'])).toBe('decline');
    expect(decisionOf({ behavior: 'deny', message: 'x', outcome: 'failed' }, input, ['accept'])).toBe('decline');
    expect(decisionOf({ behavior: 'deny', message: 'stop', outcome: 'cancelled' }, input, ['accept'])).toBe('cancel');
  });

  it("CODEX-5: the Bash command is the script of Codex's /bin/bash -lc '…' (its quoting undone exactly); any other form is kept whole", () => {
    expect(unwrapShell("/bin/bash -lc 'touch /tmp/x && echo ok'")).toBe('touch /tmp/x && echo ok');
    expect(unwrapShell(`/bin/bash -lc 'echo it'\\''s'`)).toBe("echo it's");
    expect(unwrapShell(`/bin/bash -lc 'echo it'"'"'s'`)).toBe("echo it's");
    expect(unwrapShell("/bin/zsh -lc 'ls'")).toBe('ls');
    expect(unwrapShell('/bin/bash -lc "echo \\"it\'s\\" \\\\ \\$HOME"')).toBe('echo "it\'s" \\ $HOME');
    for (const expands of ['/bin/bash -lc "echo $HOME"', '/bin/bash -lc "echo `id`"', '/bin/bash -lc "a\\nb"', '/bin/bash -lc "x" ; rm -rf /'])
      expect(unwrapShell(expands), expands).toBeUndefined();
    for (const other of [
      "/bin/bash -lc 'x' ; rm -rf /",
      "/bin/bash -lc 'x'y'",
      "bash -lc 'x'",
      "/bin/bash -c 'x'",
      '/bin/bash -lc x',
      "/bin/bash -lc 'x' 'y'",
      'ls',
    ])
      expect(unwrapShell(other), other).toBeUndefined();
  });
});
