/**
 * The in-process harness (issue 10, "An in-process harness"): the real app, hub and
 * broker host over a real SQLite store in a temporary data dir, and N simulated
 * browsers, each driving the REAL browser connection machine (machines/connection.machine.ts)
 * and its queue, connected through FakeLinks (fakeSocket.ts) that move a frame only when
 * the test says so.
 *
 * Time is an input (architecture.md, example 3): one xstate SimulatedClock drives the
 * broker's deadlines and every browser's timers (acks, pings, retries); the hub's own
 * timers are vitest fake timers run at each settle; host ticks (setImmediate, FIFO and
 * never time-based) are also committed explicitly with `tick`. No real network, no real
 * timer decides anything, so a run is a function of what the test does.
 *
 * Agents reach the server through the HTTP routes (`app.request`, the agent token), as
 * the hook and scripts do; browsers upgrade through the app's `/ws` route (the guard,
 * the label check, `since`/`epoch` parsing), with a fake upgrader in place of node-ws.
 *
 * Everything about the host's own API lives in harnessServer.ts (one adapter).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineWebSocketHelper, WSContext, type WSEvents } from 'hono/ws';
import { vi } from 'vitest';
import { SimulatedClock, createActor, fromCallback, type ActorRefFrom, type SnapshotFrom } from 'xstate';
import { decodeServerFrame, type SocketCommand, type SocketInput } from '../../machines/connection.frames.ts';
import { connectionMachine } from '../../machines/connection.machine.ts';
import type { DecideCommand } from '../../machines/queue.ts';
import { parseWith, requestView, type PermissionRequestEvent, type PermissionResponse, type SequencedEvent } from '../../protocol/index.ts';
import type { FaultPoint } from '../config.ts';
import type { Upgrader } from '../ws/upgrade.ts';
import { type Direction, FakeLink, type WireItem } from './fakeSocket.ts';
import { HARNESS_ORIGIN, HARNESS_PORT, type ServerUnderTest, startServerUnderTest } from './harnessServer.ts';
import { type Random, seededRandom } from './random.ts';

/** The simulated clock's start (any fixed time: runs must not depend on the real one). */
export const T0 = 1_800_000_000_000;

const TOKENS = { owner: 'harness-owner-token-0123456789abcdef', agent: 'harness-agent-token-0123456789abcdef' };

export type HarnessOptions = {
  browsers: number;
  /** Seeds the browsers' jitter and their clientMsgIds. */
  seed?: number;
  /** Start the browsers' connections at once (default true; `n`: the first n). */
  start?: boolean | number;
  maxBufferedBytes?: number;
  /** The hub's snapshot frame limit (small: snapshots in parts, paced by delivery). */
  snapshotFrameBytes?: number;
  /** Each browser's `?label=` (none: it decides as its clientId). */
  labels?: ReadonlyArray<string | undefined>;
};

export type ConnectionActor = ActorRefFrom<typeof connectionMachine>;
export type ConnectionSnapshot = SnapshotFrom<typeof connectionMachine>;

/** What a browser did with the stream, to be checked against the server's log. */
export type StreamRecord =
  /** An event the machine held (its lastSeq moved to it). */
  | { kind: 'event'; event: SequencedEvent }
  /** A snapshot applied after `resumed:false`: the client's stream restarts at `seq`. */
  | { kind: 'snapshot'; seq: number; requests: PermissionRequestEvent[] };

/** An answer the server wrote to a socket for a decision that carried a clientMsgId. */
export type WsAnswer = {
  browser: string;
  clientMsgId: string;
  requestId: string;
  /** `accepted`, or the error code. */
  result: string;
  decision?: 'allow' | 'deny';
};

export type HttpCall = {
  id: number;
  kind: 'create' | 'decide' | 'cancel' | 'read';
  /** What was asked (for the trace and the checks). */
  args: Record<string, unknown>;
  /** Set once answered; `0` when the server was down (connection refused). */
  status?: number;
  body?: any;
};

export class SimBrowser {
  readonly actor: ConnectionActor;
  /** The link of the current socket actor, if any. */
  link: FakeLink | undefined;
  /** Every clientId the server gave this window (a new one per connection). */
  readonly clientIds: string[] = [];
  readonly stream: StreamRecord[] = [];
  /** The decision frames this window wrote, by clientMsgId (the first of each). */
  readonly sentDecisions = new Map<string, PermissionResponse>();

  constructor(
    readonly name: string,
    harness: Harness,
    random: Random,
    /** `?label=`: its decisions' `decidedBy` (else its clientId of the moment). */
    readonly label?: string,
  ) {
    const socket = fromCallback<SocketCommand, SocketInput>(({ sendBack, receive, input }) => {
      const link = harness.openLink(this, input, (event) => sendBack(event));
      this.link = link;
      receive((command) => {
        if (link.isOpen) harness.clientWrite(this, link, command.data);
      });
      return () => {
        if (this.link === link) this.link = undefined;
        link.clientClose(1000, 'client');
      };
    });
    this.actor = createActor(connectionMachine.provide({ actors: { socket } }), {
      clock: harness.clock,
      input: { now: () => harness.clock.now(), random: () => random.next() },
    });
    // What the web UI does on `request.unseen` (web/state/unseenOutcome.ts): ask once over HTTP.
    this.actor.on('request.unseen', (event) => harness.fetchUnseen(this, event.requestId));
    this.actor.start();
  }

  /** Whether a `decidedBy` names this window. */
  decidesAs(decidedBy: string): boolean {
    return this.label !== undefined ? decidedBy === this.label : this.clientIds.includes(decidedBy);
  }

  get snapshot(): ConnectionSnapshot {
    return this.actor.getSnapshot();
  }

  get isLive(): boolean {
    return this.snapshot.matches({ link: { open: { sync: 'live' } } });
  }

  get state(): string {
    return JSON.stringify(this.snapshot.value);
  }

  start(): void {
    this.actor.send({ type: 'connection.start' });
  }

  decide(command: DecideCommand): void {
    this.actor.send({ type: 'queue.decide', ...command });
  }
}

export class Harness {
  readonly clock = new SimulatedClock();
  readonly dataDir: string;
  readonly browsers: SimBrowser[] = [];
  readonly links: FakeLink[] = [];
  readonly calls: HttpCall[] = [];
  readonly wsAnswers: WsAnswer[] = [];
  /** Readable lines of what happened, for a failing run's report. */
  readonly trace: string[] = [];
  /** Fatal errors of a host (a commit failed) other than the one a crash causes. */
  readonly fatals: unknown[] = [];
  server: ServerUnderTest | undefined;
  /** Links whose direction the test holds (flushUntilQuiet leaves them). */
  readonly held = new Set<string>();
  private activity = 0;
  /** Servers killed with -9: whatever they answer afterwards never reaches anyone. */
  private readonly crashed = new WeakSet<ServerUnderTest>();
  private nextLink = 1;
  private readonly upgrades = new Map<string, WSEvents>();
  private readonly names = new Map<string, string>();
  private readonly upgrader: Upgrader;
  private readonly options: HarnessOptions;
  private disposed = false;

  private constructor(options: HarnessOptions) {
    this.options = options;
    this.clock.set(T0);
    // A real SQLite file; in memory-backed /dev/shm where there is one, so that the
    // thousands of runs of the fuzz do not wait for the disk's fsyncs.
    this.dataDir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'gh-harness-'));
    // The app's `/ws` route, upgraded by the harness: the route's events are kept by the
    // link id the upgrade request carries, and the harness opens that link with them.
    const upgradeWebSocket = defineWebSocketHelper(async (c, events) => {
      if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') return;
      const id = c.req.header('x-harness-link') ?? '';
      this.upgrades.set(id, events);
      return new Response(null, { status: 200, headers: { 'x-harness-upgraded': id } });
    });
    this.upgrader = { upgradeWebSocket, bindApp: () => {}, inject: () => {} };
  }

  static async create(options: HarnessOptions): Promise<Harness> {
    // The hub's timers (queue status, pings) and Date become fake: only settle runs them.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'], now: T0 });
    const harness = new Harness(options);
    await harness.startServer();
    const random = seededRandom(options.seed ?? 1);
    for (let i = 0; i < options.browsers; i++) harness.browsers.push(new SimBrowser(`b${i}`, harness, random, options.labels?.[i]));
    const starting = options.start === false ? 0 : options.start === true || options.start === undefined ? options.browsers : options.start;
    for (const browser of harness.browsers.slice(0, starting)) browser.start();
    await harness.settle();
    return harness;
  }

  // ---- names for traces ---------------------------------------------------------

  /** A short stable name for an id (r1, r2, … for requests; c1, … for clients). */
  nameOf(id: string, prefix = 'r'): string {
    let name = this.names.get(id);
    if (!name) {
      name = `${prefix}${[...this.names.values()].filter((n) => n.startsWith(prefix)).length + 1}`;
      this.names.set(id, name);
    }
    return name;
  }

  note(line: string): void {
    this.trace.push(`[${this.clock.now() - T0}ms] ${line}`);
  }

  private describeFrame(text: string): string {
    try {
      const m = JSON.parse(text) as Record<string, any>;
      const parts: string[] = [m.type];
      if (typeof m.seq === 'number') parts.push(`#${m.seq}`);
      for (const key of ['id', 'requestId']) if (typeof m[key] === 'string') parts.push(this.nameOf(m[key]));
      for (const key of ['decision', 'code', 'status', 'decidedBy', 'resumed']) if (m[key] !== undefined) parts.push(`${key}=${m[key]}`);
      if (typeof m.ref === 'string') parts.push(`ref=${m.ref.slice(0, 4)}`);
      if (typeof m.clientMsgId === 'string') parts.push(`msg=${m.clientMsgId.slice(0, 4)}`);
      if (Array.isArray(m.requests)) parts.push(`[${m.requests.map((r: { id: string }) => this.nameOf(r.id)).join(',')}]`);
      return parts.join(' ');
    } catch {
      return text.slice(0, 60);
    }
  }

  // ---- the server ---------------------------------------------------------------

  async startServer(): Promise<void> {
    if (this.server) throw new Error('the server is already running');
    this.server = await startServerUnderTest({
      dataDir: this.dataDir,
      clock: this.clock,
      tokens: TOKENS,
      upgrader: this.upgrader,
      ...(this.options.maxBufferedBytes !== undefined ? { maxBufferedBytes: this.options.maxBufferedBytes } : {}),
      ...(this.options.snapshotFrameBytes !== undefined ? { snapshotFrameBytes: this.options.snapshotFrameBytes } : {}),
      onFatal: (error) => this.fatals.push(error),
    });
    this.note('server started');
  }

  /** `crash` is kill -9: every socket dies at once and the buffered tick is lost;
   *  `graceful` is SIGTERM: committed, then each socket gets its 1001 close in order. */
  async stopServer(mode: 'graceful' | 'crash'): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.note(`server stop (${mode})`);
    if (mode === 'crash') {
      this.crashed.add(server);
      for (const link of this.links) link.serverDied();
    }
    this.server = undefined;
    await server.stop(mode);
    this.activity += 1;
  }

  /** Arm the chaos suite's fault points in-process: the server dies (kill -9) at that
   *  point of the next tick that reaches it, and stays down until `startServer`. */
  armCrash(point: FaultPoint): void {
    const server = this.server;
    if (!server) return;
    this.note(`crash armed at ${point}`);
    server.armCrash(point, () => {
      this.note(`server CRASHED at ${point}`);
      this.crashed.add(server);
      this.server = undefined;
      for (const link of this.links) link.serverDied();
      this.activity += 1;
      // The rest of the death (the actor's timers stop) off the host's stack.
      queueMicrotask(() => void server.stop('crash'));
    });
  }

  async restart(mode: 'graceful' | 'crash'): Promise<void> {
    await this.stopServer(mode);
    await this.startServer();
    await this.settle();
  }

  // ---- links ----------------------------------------------------------------------

  /** The socket actor of `browser` starts: a new link, upgraded through the app. */
  openLink(
    browser: SimBrowser,
    input: SocketInput,
    sendBack: (event: ReturnType<typeof decodeServerFrame> | { type: 'socket.closed'; code: number; reason: string }) => void,
  ): FakeLink {
    const link = new FakeLink(this.nextLink++, browser.name);
    this.links.push(link);
    this.activity += 1;
    const server = this.server;
    const query = new URLSearchParams();
    if (input.since !== undefined && input.epoch !== undefined) {
      query.set('since', String(input.since));
      query.set('epoch', input.epoch);
    }
    if (browser.label !== undefined) query.set('label', browser.label);
    query.set('token', TOKENS.owner);
    this.note(`${browser.name} connects (link ${link.id}${input.since !== undefined ? `, since ${input.since}` : ', fresh'})`);
    const refuse = (why: string) => {
      this.note(`${browser.name} link ${link.id} refused: ${why}`);
      link.sever(1006, why);
      if (this.browserOwns(browser, link)) sendBack({ type: 'socket.closed', code: 1006, reason: why });
      this.activity += 1;
    };
    if (!server) {
      // Connection refused: the browser hears of it after this transition.
      queueMicrotask(() => refuse('server down'));
      return link;
    }
    const linkId = String(link.id);
    void Promise.resolve(
      server.app.request(`${HARNESS_ORIGIN}/ws?${query}`, {
        headers: { host: `127.0.0.1:${HARNESS_PORT}`, origin: HARNESS_ORIGIN, upgrade: 'websocket', connection: 'Upgrade', 'x-harness-link': linkId },
      }),
    ).then((response: Response) => {
      const events = this.upgrades.get(linkId);
      this.upgrades.delete(linkId);
      if (response.headers.get('x-harness-upgraded') !== linkId || !events) return refuse(`upgrade answered ${response.status}`);
      if (link.clientClosed || this.server !== server) return refuse('gone before the upgrade finished');
      const ws = new WSContext({
        raw: link.raw,
        send: (data) => link.raw.send(String(data)),
        close: (code, reason) => link.raw.close(code, reason),
        get readyState() {
          return link.raw.readyState as 0 | 1 | 2 | 3;
        },
      });
      link.open({
        onClientFrame: (text) => this.clientReceives(browser, text, sendBack),
        onClientClose: (code, reason) => {
          this.note(`${browser.name} link ${link.id} closed ${code}`);
          if (this.browserOwns(browser, link)) sendBack({ type: 'socket.closed', code, reason });
        },
        onServerFrame: (text) => events.onMessage?.(new MessageEvent('message', { data: text }), ws),
        onServerClose: (code, reason) => events.onClose?.({ code, reason } as unknown as Parameters<NonNullable<typeof events.onClose>>[0], ws),
        onQueued: (direction, item) => this.queued(browser, link, direction, item),
      });
      events.onOpen?.(new Event('open'), ws);
      this.activity += 1;
    });
    return link;
  }

  private browserOwns(browser: SimBrowser, link: FakeLink): boolean {
    return browser.link === link;
  }

  private queued(browser: SimBrowser, _link: FakeLink, direction: Direction, item: WireItem): void {
    this.activity += 1;
    if (direction !== 'toClient' || item.kind !== 'frame') return;
    const m = JSON.parse(item.text) as Record<string, any>;
    if ((m.type === 'ack' || m.type === 'error') && typeof m.ref === 'string' && typeof m.requestId === 'string') {
      this.wsAnswers.push({
        browser: browser.name,
        clientMsgId: m.ref,
        requestId: m.requestId,
        result: m.type === 'ack' ? 'accepted' : m.code,
        ...(m.decision ? { decision: m.decision } : {}),
      });
    }
  }

  /** A frame the browser's machine writes. */
  clientWrite(browser: SimBrowser, link: FakeLink, text: string): void {
    const m = JSON.parse(text) as Record<string, any>;
    if (m.type === 'permission-response' && typeof m.clientMsgId === 'string' && !browser.sentDecisions.has(m.clientMsgId)) {
      browser.sentDecisions.set(m.clientMsgId, m as PermissionResponse);
    }
    link.clientSend(text);
  }

  /** A server frame reaches the browser's machine; what it held is recorded. */
  private clientReceives(browser: SimBrowser, text: string, sendBack: (event: ReturnType<typeof decodeServerFrame>) => void): void {
    const event = decodeServerFrame(text);
    const before = browser.snapshot.context;
    sendBack(event);
    const after = browser.snapshot.context;
    if (event.type === 'server.welcome') browser.clientIds.push(event.message.clientId);
    if (event.type === 'server.event' && after.lastSeq === event.event.seq && before.lastSeq !== after.lastSeq) {
      browser.stream.push({ kind: 'event', event: event.event });
    }
    if ((event.type === 'server.snapshot' || event.type === 'server.snapshot-part') && before.needSnapshot && !after.needSnapshot) {
      const requests = Object.values(after.queue.cards).map((card) => card.request);
      browser.stream.push({ kind: 'snapshot', seq: after.lastSeq, requests });
    }
  }

  /** The browser's link, if it is open (the harness's fault operations act on it). */
  linkOf(browser: SimBrowser): FakeLink | undefined {
    const link = browser.link;
    return link && !link.clientClosed ? link : undefined;
  }

  deliver(browser: SimBrowser, direction: Direction, index = 0): boolean {
    const link = browser.link;
    const item = link?.[direction][index];
    if (!link || !item) return false;
    this.note(`${browser.name} ${direction === 'toClient' ? '<-' : '->'} ${index > 0 ? `(reordered ${index}) ` : ''}${this.describeItem(item)}`);
    link.deliver(direction, index);
    return true;
  }

  drop(browser: SimBrowser, direction: Direction, index = 0): boolean {
    const link = browser.link;
    const item = link?.[direction][index];
    if (!link || !item) return false;
    this.note(`${browser.name} ${direction === 'toClient' ? '<-' : '->'} DROPPED ${this.describeItem(item)}`);
    link.drop(direction, index);
    return true;
  }

  duplicate(browser: SimBrowser, direction: Direction, index = 0): boolean {
    const link = browser.link;
    const item = link?.[direction][index];
    if (!link || !item || item.kind !== 'frame') return false;
    this.note(`${browser.name} ${direction === 'toClient' ? '<-' : '->'} DUPLICATED ${this.describeItem(item)}`);
    link.duplicate(direction, index);
    return true;
  }

  /** The network between this browser and the server is gone (both see 1006). */
  sever(browser: SimBrowser): boolean {
    const link = browser.link;
    if (!link || link.clientClosed) return false;
    this.note(`${browser.name} link ${link.id} SEVERED`);
    link.sever(1006, 'connection lost');
    this.activity += 1;
    return true;
  }

  /** A frame written by the browser outside its machine (a re-send, a misbehaving tab). */
  inject(browser: SimBrowser, text: string): boolean {
    const link = this.linkOf(browser);
    if (!link?.isOpen) return false;
    this.note(`${browser.name} injects ${this.describeFrame(text)}`);
    link.clientSend(text);
    return true;
  }

  private describeItem(item: WireItem): string {
    return item.kind === 'close' ? `close ${item.code}` : this.describeFrame(item.text);
  }

  hold(browser: SimBrowser, direction: Direction): void {
    this.held.add(`${browser.name}:${direction}`);
  }

  releaseAll(): void {
    this.held.clear();
  }

  // ---- time and quiet -------------------------------------------------------------

  /** Move the simulated clock: deadlines, acks, pings and retries that fall due run. */
  advance(ms: number): void {
    this.note(`clock +${ms}ms`);
    this.clock.increment(ms);
    this.activity += 1;
  }

  /** Let the server run without moving any frame: commit, relay, answer, until nothing
   *  is buffered and no callback moves anything. */
  async settle(): Promise<void> {
    for (let round = 0; round < 1_000; round++) {
      const before = this.activity;
      this.server?.tick();
      await new Promise<void>((resolve) => setImmediate(resolve));
      vi.advanceTimersByTime(0);
      if (this.activity === before && (this.server?.isQuiet() ?? true)) return;
    }
    throw new Error('the server never settled (1,000 rounds)');
  }

  /** Deliver every frame in flight, both ways, in order (except held directions), and
   *  settle, until nothing moves. */
  async flushUntilQuiet(): Promise<void> {
    for (let round = 0; round < 1_000; round++) {
      let moved = false;
      for (const browser of this.browsers) {
        for (const direction of ['toServer', 'toClient'] as const) {
          if (this.held.has(`${browser.name}:${direction}`)) continue;
          while (browser.link && browser.link[direction].length > 0) {
            this.deliver(browser, direction);
            moved = true;
          }
        }
      }
      // Links a closed socket actor left behind still carry their close to the server.
      for (const link of this.links) {
        if (link.serverClosed) continue;
        const owner = this.browsers.find((b) => b.link === link);
        if (owner) continue;
        while (link.inFlight > 0) {
          link.deliver(link.toServer.length > 0 ? 'toServer' : 'toClient');
          moved = true;
        }
      }
      const before = this.activity;
      await this.settle();
      if (!moved && this.activity === before) return;
    }
    throw new Error('never quiet (1,000 rounds of delivery)');
  }

  // ---- HTTP: agents and the API ---------------------------------------------------

  private async call(kind: HttpCall['kind'], args: Record<string, unknown>, path: string, init: RequestInit, token: string): Promise<HttpCall> {
    const call: HttpCall = { id: this.calls.length + 1, kind, args };
    this.calls.push(call);
    const server = this.server;
    if (!server) {
      call.status = 0;
      return call;
    }
    const headers = new Headers(init.headers);
    headers.set('host', `127.0.0.1:${HARNESS_PORT}`);
    headers.set('authorization', `Bearer ${token}`);
    if (init.body !== undefined) headers.set('content-type', 'application/json');
    const response = await server.app.request(`${HARNESS_ORIGIN}${path}`, { ...init, headers });
    const body = await response.json().catch(() => undefined);
    this.activity += 1;
    // A killed process answers nothing: its connections were reset.
    if (this.crashed.has(server)) {
      call.status = 0;
      return call;
    }
    call.status = response.status;
    call.body = body;
    this.activity += 1;
    return call;
  }

  /** An agent's create (POST /api/permission-requests), with an Idempotency-Key or not. */
  create(spec: { toolName: string; input: Record<string, unknown>; timeoutMs: number; idempotencyKey?: string }): Promise<HttpCall> {
    const { idempotencyKey, ...body } = spec;
    this.note(`agent creates ${spec.toolName}${idempotencyKey ? ` key=${idempotencyKey}` : ''} timeout ${spec.timeoutMs}`);
    return this.call(
      'create',
      spec,
      '/api/permission-requests',
      { method: 'POST', body: JSON.stringify(body), headers: idempotencyKey ? { 'idempotency-key': idempotencyKey } : {} },
      TOKENS.agent,
    );
  }

  /** The owner's decision over HTTP (decidedBy `http`). */
  decideOverHttp(requestId: string, decision: 'allow' | 'deny', updatedInput?: Record<string, unknown>): Promise<HttpCall> {
    this.note(`http decides ${this.nameOf(requestId)} ${decision}`);
    return this.call(
      'decide',
      { requestId, decision, ...(updatedInput ? { updatedInput } : {}) },
      `/api/permission-requests/${encodeURIComponent(requestId)}/decision`,
      { method: 'POST', body: JSON.stringify({ decision, ...(updatedInput ? { updatedInput } : {}) }) },
      TOKENS.owner,
    );
  }

  /** The agent gives up (DELETE). */
  cancel(requestId: string): Promise<HttpCall> {
    this.note(`agent cancels ${this.nameOf(requestId)}`);
    return this.call('cancel', { requestId }, `/api/permission-requests/${encodeURIComponent(requestId)}`, { method: 'DELETE' }, TOKENS.agent);
  }

  /** What web/state/unseenOutcome.ts does for `request.unseen`. */
  fetchUnseen(browser: SimBrowser, requestId: string): void {
    void this.call('read', { requestId }, `/api/permission-requests/${encodeURIComponent(requestId)}`, { method: 'GET' }, TOKENS.owner).then((call) => {
      if (call.status !== 200) return;
      const view = parseWith(requestView, call.body);
      if (view.ok) browser.actor.send({ type: 'queue.outcome', view: view.value });
    });
  }

  // ---- the end ----------------------------------------------------------------------

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    for (const browser of this.browsers) browser.actor.stop();
    await this.stopServer('graceful');
    vi.useRealTimers();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
