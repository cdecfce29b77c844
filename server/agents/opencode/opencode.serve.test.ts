/**
 * `bin/gatehouse opencode --url …` with the real opencode 1.18.33 (`opencode serve`,
 * pinned, installed into the agent cache on first use), offline against a fake chat
 * completions API, through a real Gatehouse server process. One opencode server and one
 * bridge for the whole file (opencode takes 2 to 3 s to start). Commands write inside
 * opencode's project folder, so each runs after exactly one ask (`bash`). Each phase
 * prints its timing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentChoicesOf, type RequestView } from '../../../protocol/index.ts';
import { connectClient, type TestClient } from '../../testing/index.ts';
import { installAgent } from '../testing/agentInstall.ts';
import { GATEHOUSE_BIN } from '../testing/claudeCli.ts';
import { contentText, startFakeChatCompletions, type FakeChatCompletions } from '../testing/fakeChatCompletions.ts';
import { startTestGatehouse, type TestGatehouse } from '../testing/gatehouseServer.ts';

const TEST_TIMEOUT = 90_000;
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const FINAL_TEXT = 'FAKE: command finished.';

/** A free loopback port (opencode's `--port 0` prefers 4096, which parallel files may share). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

/** Lines of a child's output, awaited by pattern. */
function watchOutput(child: ChildProcess) {
  let text = '';
  const waiters = new Set<() => void>();
  const on = (chunk: Buffer) => {
    text += chunk.toString('utf8');
    for (const waiter of [...waiters]) waiter();
  };
  child.stdout?.on('data', on);
  child.stderr?.on('data', on);
  return {
    text: () => text,
    waitFor(pattern: RegExp, timeoutMs: number, from = 0): Promise<RegExpMatchArray> {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = text.slice(from).match(pattern);
          if (!match) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(match);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no ${pattern} within ${timeoutMs} ms; output:\n${text.slice(-3000)}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
  };
}

type OcEvent = { type: string; properties: Record<string, any> };

/** The test's own reader of opencode's event stream (independent of the bridge's). */
function observeEvents(url: string) {
  const events: OcEvent[] = [];
  const waiters = new Set<() => void>();
  const controller = new AbortController();
  void (async () => {
    const response = await fetch(`${url}/event`, { signal: controller.signal, headers: { accept: 'text/event-stream' } });
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      text += decoder.decode(value, { stream: true });
      let cut: number;
      while ((cut = text.indexOf('\n\n')) >= 0) {
        const block = text.slice(0, cut);
        text = text.slice(cut + 2);
        const data = block
          .split('\n')
          .filter((l) => l.startsWith('data:'))
          .map((l) => l.slice(5).trim())
          .join('\n');
        if (data) events.push(JSON.parse(data) as OcEvent);
        for (const waiter of [...waiters]) waiter();
      }
    }
  })().catch(() => {});
  return {
    events,
    next(predicate: (event: OcEvent) => boolean, timeoutMs = 60_000, from = 0): Promise<OcEvent> {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = events.slice(from).find(predicate);
          if (!found) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(found);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no such opencode event within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close: () => controller.abort(),
  };
}

describe('bin/gatehouse opencode --url (real opencode 1.18.33)', () => {
  let gate: TestGatehouse;
  let fake: FakeChatCompletions;
  let root: string;
  let work: string;
  let opencode: ChildProcess;
  let bridge: ChildProcess;
  let bridgeOut: ReturnType<typeof watchOutput>;
  let ocUrl: string;
  let observer: ReturnType<typeof observeEvents>;
  let ws: TestClient;
  const fileStarted = Date.now();

  beforeAll(async () => {
    let t = Date.now();
    const [{ bin }, api, server] = await Promise.all([
      installAgent('opencode'),
      startFakeChatCompletions((request) => {
        const messages = request.body.messages ?? [];
        const last = messages[messages.length - 1];
        // opencode's title generation has no tools.
        if (!Array.isArray(request.body.tools) || request.body.tools.length === 0) return { text: 'A title' };
        if (last?.role === 'tool') return { text: FINAL_TEXT };
        const command = /RUN: ([^\n]+)/.exec(contentText(last?.content))?.[1];
        if (!command) return { text: 'Hello.' };
        return { text: 'I will run it.', toolCall: { name: 'bash', arguments: { command, description: 'opencode test' } } };
      }),
      startTestGatehouse(),
    ]);
    fake = api;
    gate = server;
    console.log(`[opencode] installed, fake model and Gatehouse up in ${seconds(Date.now() - t)}`);

    root = mkdtempSync(join(tmpdir(), 'gh-opencode-'));
    work = join(root, 'work');
    const home = join(root, 'home');
    for (const dir of [work, join(work, 'out'), home, join(home, 'config'), join(home, 'data'), join(home, 'cache'), join(home, 'state')])
      mkdirSync(dir, { recursive: true });
    const config = join(root, 'opencode.json');
    writeFileSync(
      config,
      JSON.stringify({
        provider: {
          fake: {
            npm: '@ai-sdk/openai-compatible',
            name: 'Fake',
            options: { baseURL: fake.baseUrl, apiKey: 'fake' },
            models: { 'fake-model': { name: 'Fake Model', tool_call: true } },
          },
        },
        model: 'fake/fake-model',
        small_model: 'fake/fake-model',
        permission: { bash: 'ask', edit: 'ask' },
        autoupdate: false,
        share: 'disabled',
      }),
    );
    const env: NodeJS.ProcessEnv = {};
    for (const [key, value] of Object.entries(process.env))
      if (!key.startsWith('GATEHOUSE_') && !key.startsWith('OPENCODE_') && key !== 'DEBUG') env[key] = value;
    Object.assign(env, {
      HOME: home,
      XDG_CONFIG_HOME: join(home, 'config'),
      XDG_DATA_HOME: join(home, 'data'),
      XDG_CACHE_HOME: join(home, 'cache'),
      XDG_STATE_HOME: join(home, 'state'),
      OPENCODE_CONFIG: config,
      // Offline (docs/testing.md): no models fetch, no updates, no LSP downloads, and no
      // first-start plugin install (OPENCODE_PURE), which hangs against a dead registry.
      OPENCODE_DISABLE_MODELS_FETCH: '1',
      OPENCODE_DISABLE_AUTOUPDATE: '1',
      OPENCODE_DISABLE_LSP_DOWNLOAD: '1',
      OPENCODE_DISABLE_DEFAULT_PLUGINS: '1',
      OPENCODE_DISABLE_SHARE: '1',
      OPENCODE_DISABLE_CLAUDE_CODE: '1',
      OPENCODE_PURE: '1',
    });
    t = Date.now();
    const port = await freePort();
    opencode = spawn(bin, ['serve', '--port', String(port), '--hostname', '127.0.0.1'], { cwd: work, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const ocOut = watchOutput(opencode);
    ocUrl = (await ocOut.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/, 60_000))[1]!;
    console.log(`[opencode] opencode serve up at ${ocUrl} in ${seconds(Date.now() - t)}`);
    observer = observeEvents(ocUrl);

    t = Date.now();
    const bridgeEnv: NodeJS.ProcessEnv = {};
    for (const [key, value] of Object.entries(process.env))
      if (!key.startsWith('GATEHOUSE_') && !key.startsWith('OPENCODE_') && key !== 'DEBUG') bridgeEnv[key] = value;
    // The agent role is all the bridge needs (contract-2 §1); it never reads the owner token.
    Object.assign(bridgeEnv, { GATEHOUSE_URL: gate.url, GATEHOUSE_AGENT_TOKEN: gate.agentToken, GATEHOUSE_DATA_DIR: join(root, 'no-data-dir') });
    bridge = spawn(GATEHOUSE_BIN, ['opencode', '--url', ocUrl], { env: bridgeEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    bridgeOut = watchOutput(bridge);
    await bridgeOut.waitFor(/connected to opencode/, 30_000);
    ws = await connectClient(gate.server.wsUrl());
    console.log(`[opencode] bridge attached in ${seconds(Date.now() - t)}`);
  }, 240_000);

  afterAll(async () => {
    observer?.close();
    await ws?.close().catch(() => {});
    for (const child of [bridge, opencode]) {
      if (!child || child.exitCode !== null) continue;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    await fake?.close();
    await gate?.stop();
    if (root) rmSync(root, { recursive: true, force: true });
    console.log(`[opencode] whole file in ${seconds(Date.now() - fileStarted)}`);
  });

  async function oc(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const response = await fetch(`${ocUrl}${path}`, {
      method,
      ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  }

  /** A new opencode session prompted to run `command`; resolves with the Gatehouse request of its ask. */
  async function promptAndAsk(command: string) {
    const session = await oc('POST', '/session', { title: 'gatehouse test' });
    expect(session.status).toBe(200);
    const sessionId = session.body.id as string;
    const from = observer.events.length;
    const prompted = await oc('POST', `/session/${sessionId}/prompt_async`, {
      parts: [{ type: 'text', text: `RUN: ${command}` }],
      model: { providerID: 'fake', modelID: 'fake-model' },
    });
    expect(prompted.status).toBe(204);
    const asked = await observer.next((e) => e.type === 'permission.asked' && e.properties.sessionID === sessionId, 60_000, from);
    const request = await gate.human.nextPending(60_000);
    const idle = observer.next(
      (e) => e.type === 'session.status' && e.properties.sessionID === sessionId && e.properties.status?.type === 'idle',
      60_000,
      from,
    );
    return { sessionId, asked, request, idle, from };
  }

  async function toolPart(sessionId: string): Promise<any> {
    const messages = await oc('GET', `/session/${sessionId}/message`);
    const parts = (messages.body as Array<{ parts: any[] }>).flatMap((m) => m.parts);
    return parts.find((p) => p.type === 'tool' && p.tool === 'bash');
  }

  async function finished(id: string): Promise<RequestView & { reason?: string }> {
    return (await gate.server.api(`/api/permission-requests/${encodeURIComponent(id)}?wait=10`)).body;
  }

  it(
    'OPENCODE-1, OPENCODE-2: allowed in Gatehouse: the bash ask is a Bash request, replied once, the command runs',
    async () => {
      const t = Date.now();
      const marker = join(work, 'out', 'allowed');
      const command = `touch ${marker}`;
      const { sessionId, asked, request, idle, from } = await promptAndAsk(command);
      expect(asked.properties.permission).toBe('bash');
      expect(request.toolName).toBe('Bash');
      // opencode's bash ask carries the command alone (no description) in its metadata.
      expect(request.input).toEqual({ command });
      expect(request.context).toMatchObject({
        agent: 'opencode',
        sessionId,
        toolUseId: asked.properties.tool.callID,
        opencodeRequestId: asked.properties.id,
        permission: 'bash',
        patterns: asked.properties.patterns,
        always: asked.properties.always,
        cwd: work,
      });
      expect((await gate.human.decide(request.id, { decision: 'allow' })).status).toBe(200);
      const replied = await observer.next((e) => e.type === 'permission.replied' && e.properties.requestID === asked.properties.id, 30_000, from);
      expect(replied.properties.reply).toBe('once');
      await idle;
      expect(existsSync(marker)).toBe(true);
      expect((await toolPart(sessionId)).state.status).toBe('completed');
      expect(fake.requests.some((r) => r.body.messages?.some((m) => m.role === 'tool'))).toBe(true);
      console.log(`[opencode] once in ${seconds(Date.now() - t)}`);
    },
    TEST_TIMEOUT,
  );

  it(
    'AGX-6: a plain Allow is replied once even though opencode offers always; an agent choice of the other decision is refused (400) and decides nothing',
    async () => {
      const t = Date.now();
      const marker = join(work, 'out', 'plain-once');
      const { asked, request, idle, from } = await promptAndAsk(`touch ${marker}`);
      const refused = await gate.human.decide(request.id, { decision: 'deny', agentChoice: 'always' });
      expect(refused.status).toBe(400);
      expect(JSON.stringify(refused.body)).toContain('cannot go with decision deny');
      expect((await gate.human.decide(request.id, { decision: 'allow', agentChoice: 'sometimes' })).status).toBe(400);
      expect((await gate.human.get(request.id)).status).toBe('pending');
      expect((await gate.human.decide(request.id, { decision: 'allow' })).status).toBe(200);
      const replied = await observer.next((e) => e.type === 'permission.replied' && e.properties.requestID === asked.properties.id, 30_000, from);
      expect(replied.properties.reply).toBe('once');
      await idle;
      expect(existsSync(marker)).toBe(true);
      console.log(`[opencode] plain once in ${seconds(Date.now() - t)}`);
    },
    TEST_TIMEOUT,
  );

  it(
    'AGX-6: opencode\'s own "Always allow", chosen on the card with the patterns it allows shown, is replied always: later matching commands run without an ask (mkdir: opencode keeps it for the whole instance, so no other test of the file runs mkdir)',
    async () => {
      const t = Date.now();
      const marker = join(work, 'out', 'always-1');
      const second = join(work, 'out', 'always-2');
      const { sessionId, asked, request, idle, from } = await promptAndAsk(`mkdir -p ${marker}`);
      const choices = agentChoicesOf(request.context);
      expect(choices.map((c) => [c.id, c.kind])).toEqual([
        ['once', 'allow_once'],
        ['always', 'allow_always'],
        ['reject', 'reject_once'],
      ]);
      // What "always" would allow: opencode's own `always` patterns, shown on the card.
      for (const pattern of asked.properties.always as string[]) expect(choices[1]?.scope).toContain(pattern);
      expect((await gate.human.decide(request.id, { decision: 'allow', agentChoice: 'always' })).status).toBe(200);
      const replied = await observer.next((e) => e.type === 'permission.replied' && e.properties.requestID === asked.properties.id, 30_000, from);
      expect(replied.properties.reply).toBe('always');
      await idle;
      expect(existsSync(marker)).toBe(true);
      // The same session, a command the `always` patterns cover: opencode asks nobody.
      const next = observer.events.length;
      const prompted = await oc('POST', `/session/${sessionId}/prompt_async`, {
        parts: [{ type: 'text', text: `RUN: mkdir -p ${second}` }],
        model: { providerID: 'fake', modelID: 'fake-model' },
      });
      expect(prompted.status).toBe(204);
      await observer.next((e) => e.type === 'session.status' && e.properties.sessionID === sessionId && e.properties.status?.type === 'idle', 60_000, next);
      expect(observer.events.slice(next).some((e) => e.type === 'permission.asked')).toBe(false);
      expect(existsSync(second)).toBe(true);
      // Wider than the session: a new session of the same opencode instance is not asked either.
      const third = join(work, 'out', 'always-3');
      const other = await oc('POST', '/session', { title: 'another session' });
      const fromOther = observer.events.length;
      await oc('POST', `/session/${other.body.id}/prompt_async`, {
        parts: [{ type: 'text', text: `RUN: mkdir -p ${third}` }],
        model: { providerID: 'fake', modelID: 'fake-model' },
      });
      await observer.next(
        (e) => e.type === 'session.status' && e.properties.sessionID === other.body.id && e.properties.status?.type === 'idle',
        60_000,
        fromOther,
      );
      expect(observer.events.slice(fromOther).some((e) => e.type === 'permission.asked')).toBe(false);
      expect(existsSync(third)).toBe(true);
      console.log(`[opencode] always in ${seconds(Date.now() - t)}`);
    },
    TEST_TIMEOUT,
  );
  it(
    'OPENCODE-2: denied in Gatehouse: replied reject with the reason, the command does not run, the tool part carries the reason',
    async () => {
      const t = Date.now();
      const marker = join(work, 'out', 'denied');
      const { sessionId, asked, request, idle, from } = await promptAndAsk(`touch ${marker}`);
      expect((await gate.human.decide(request.id, { decision: 'deny', message: 'not on a Tuesday' })).status).toBe(200);
      const replied = await observer.next((e) => e.type === 'permission.replied' && e.properties.requestID === asked.properties.id, 30_000, from);
      expect(replied.properties.reply).toBe('reject');
      await idle;
      expect(existsSync(marker)).toBe(false);
      const part = await toolPart(sessionId);
      expect(part.state.status).toBe('error');
      expect(String(part.state.error)).toContain('not on a Tuesday');
      console.log(`[opencode] reject in ${seconds(Date.now() - t)}`);
    },
    TEST_TIMEOUT,
  );

  it(
    'OPENCODE-3: answered by another opencode client first: the Gatehouse request ends cancelled answered-in-agent, seen on the WebSocket',
    async () => {
      const t = Date.now();
      const marker = join(work, 'out', 'elsewhere');
      const { asked, request, idle } = await promptAndAsk(`touch ${marker}`);
      // Another opencode UI answers the ask directly.
      const answer = await oc('POST', `/permission/${asked.properties.id}/reply`, { reply: 'once' });
      expect(answer).toEqual({ status: 200, body: true });
      const cancelled = await ws.waitFor((f) => f.type === 'permission-cancelled' && f.requestId === request.id, { timeoutMs: 30_000 });
      expect(cancelled.reason).toBe('answered-in-agent');
      expect(await finished(request.id)).toMatchObject({ status: 'cancelled', reason: 'answered-in-agent' });
      await idle;
      expect(existsSync(marker)).toBe(true);
      // The bridge sent no reply of its own: the one replied event is the other client's.
      expect(observer.events.filter((e) => e.type === 'permission.replied' && e.properties.requestID === asked.properties.id)).toHaveLength(1);
      console.log(`[opencode] answered elsewhere in ${seconds(Date.now() - t)}`);
    },
    TEST_TIMEOUT,
  );

  it(
    'OPENCODE-4: many asks at once are each handled; a slow human does not hold back the others',
    async () => {
      const t = Date.now();
      const markers = [0, 1, 2].map((i) => join(work, 'out', `many-${i}`));
      const sessions = await Promise.all(markers.map(async () => (await oc('POST', '/session', { title: 'many' })).body.id as string));
      const from = observer.events.length;
      await Promise.all(
        sessions.map((id, i) =>
          oc('POST', `/session/${id}/prompt_async`, {
            parts: [{ type: 'text', text: `RUN: touch ${markers[i]}` }],
            model: { providerID: 'fake', modelID: 'fake-model' },
          }),
        ),
      );
      const requests = await Promise.all(markers.map(() => gate.human.nextPending(60_000)));
      const byMarker = (i: number) => requests.find((r) => r.input.command === `touch ${markers[i]}`)!;
      // The last one is answered first; the others still wait.
      expect((await gate.human.decide(byMarker(2).id, { decision: 'allow' })).status).toBe(200);
      await observer.next(
        (e) => e.type === 'session.status' && e.properties.sessionID === byMarker(2).context.sessionId && e.properties.status?.type === 'idle',
        60_000,
        from,
      );
      expect(existsSync(markers[2]!)).toBe(true);
      expect(existsSync(markers[0]!)).toBe(false);
      expect((await gate.human.decide(byMarker(0).id, { decision: 'allow' })).status).toBe(200);
      expect((await gate.human.decide(byMarker(1).id, { decision: 'deny', message: 'no' })).status).toBe(200);
      for (const i of [0, 1])
        await observer.next(
          (e) => e.type === 'session.status' && e.properties.sessionID === byMarker(i).context.sessionId && e.properties.status?.type === 'idle',
          60_000,
          from,
        );
      expect(existsSync(markers[0]!)).toBe(true);
      expect(existsSync(markers[1]!)).toBe(false);
      console.log(`[opencode] three at once in ${seconds(Date.now() - t)}`);
    },
    TEST_TIMEOUT,
  );

  it(
    'OPENCODE-7: "Always allow" in Gatehouse makes a Gatehouse rule: the same command later in the session is replied once with no human; opencode\'s own always is not sent',
    async () => {
      const t = Date.now();
      const marker = join(work, 'out', 'remembered');
      const command = `touch ${marker}`;
      const { sessionId, asked, request, idle, from } = await promptAndAsk(command);
      const decided = await gate.human.decide(request.id, { decision: 'allow', remember: { scope: 'session' } });
      expect(decided.status).toBe(200);
      const first = await observer.next((e) => e.type === 'permission.replied' && e.properties.requestID === asked.properties.id, 30_000, from);
      expect(first.properties.reply).toBe('once');
      await idle;
      expect(existsSync(marker)).toBe(true);
      rmSync(marker);
      // The same command again in the same session: the rule decides.
      const again = observer.events.length;
      await oc('POST', `/session/${sessionId}/prompt_async`, {
        parts: [{ type: 'text', text: `RUN: ${command}` }],
        model: { providerID: 'fake', modelID: 'fake-model' },
      });
      const second = await observer.next((e) => e.type === 'permission.asked' && e.properties.sessionID === sessionId, 60_000, again);
      const replied = await observer.next((e) => e.type === 'permission.replied' && e.properties.requestID === second.properties.id, 30_000, again);
      expect(replied.properties.reply).toBe('once');
      await observer.next((e) => e.type === 'session.status' && e.properties.sessionID === sessionId && e.properties.status?.type === 'idle', 60_000, again);
      expect(existsSync(marker)).toBe(true);
      const list = await gate.server.api('/api/permission-requests?status=resolved');
      const byRule = (list.body.requests as RequestView[]).find((r) => r.context.opencodeRequestId === second.properties.id);
      expect(byRule).toMatchObject({ status: 'resolved', decision: 'allow' });
      expect(byRule?.decidedBy).toMatch(/rule/);
      console.log(`[opencode] remembered rule in ${seconds(Date.now() - t)}`);
    },
    TEST_TIMEOUT,
  );

  it(
    'OPENCODE-5, OPENCODE-6: an ask pending before the bridge attaches is found by its list; a Gatehouse that cannot prove itself means reject, never allow',
    async () => {
      const t = Date.now();
      // The file's bridge goes away; an ask comes while no bridge listens.
      const gone = new Promise((resolve) => bridge.once('exit', resolve));
      bridge.kill('SIGTERM');
      await gone;
      const marker = join(work, 'out', 'unproven');
      const session = await oc('POST', '/session', { title: 'unproven' });
      const sessionId = session.body.id as string;
      const from = observer.events.length;
      await oc('POST', `/session/${sessionId}/prompt_async`, {
        parts: [{ type: 'text', text: `RUN: touch ${marker}` }],
        model: { providerID: 'fake', modelID: 'fake-model' },
      });
      const asked = await observer.next((e) => e.type === 'permission.asked' && e.properties.sessionID === sessionId, 60_000, from);
      // A bridge with the wrong agent token: the server's hello proof fails, nothing is sent to it.
      const env: NodeJS.ProcessEnv = {};
      for (const [key, value] of Object.entries(process.env))
        if (!key.startsWith('GATEHOUSE_') && !key.startsWith('OPENCODE_') && key !== 'DEBUG') env[key] = value;
      Object.assign(env, { GATEHOUSE_URL: gate.url, GATEHOUSE_AGENT_TOKEN: 'x'.repeat(43), GATEHOUSE_DATA_DIR: join(root, 'no-data-dir') });
      bridge = spawn(GATEHOUSE_BIN, ['opencode', '--url', ocUrl], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      const replied = await observer.next((e) => e.type === 'permission.replied' && e.properties.requestID === asked.properties.id, 30_000, from);
      expect(replied.properties.reply).toBe('reject');
      await observer.next((e) => e.type === 'session.status' && e.properties.sessionID === sessionId && e.properties.status?.type === 'idle', 60_000, from);
      expect(existsSync(marker)).toBe(false);
      expect(String((await toolPart(sessionId)).state.error)).toContain('did not prove it knows the agent token');
      const pending = await gate.server.api('/api/permission-requests?status=pending');
      expect(pending.body.requests).toEqual([]);
      console.log(`[opencode] unproven Gatehouse in ${seconds(Date.now() - t)}`);
    },
    TEST_TIMEOUT,
  );
});
