/**
 * How other parts of the server (agents, chat sessions, rules, audit) plug into the
 * composition root without editing it: a plugin receives the running pieces and returns
 * the routes it mounts (after the security guard, before the web UI) and what to do on
 * shutdown. `serve` mounts `server/agents/plugin.ts`.
 */
import type { AgentChoiceBook } from './agentChoiceBook.ts';
import type { BrokerHost } from './brokerHost.ts';
import type { ExtraRoute } from './app.ts';
import type { Config } from './config.ts';
import type { Logger } from './log.ts';
import type { Metrics } from './metrics.ts';
import type { EventStore, HistoryLimits } from './store/types.ts';
import type { DecisionObserver, RememberGate } from './decisions.ts';
import type { RuleBook } from './rules/ruleStore.ts';

export type PluginContext = {
  config: Config;
  /** create/decide/cancel/append (resolve after commit), onCommitted (the event stream). */
  host: BrokerHost;
  store: EventStore;
  logger: Logger;
  metrics: Metrics;
  /** The server's base URL (http://127.0.0.1:PORT) and token, known once listening. */
  baseUrl(): string;
  token: string | undefined;
  /** The agent's own choice each human decision named (agentChoiceBook.ts). */
  agentChoices: AgentChoiceBook;
  /** The shared store's remembered rules (contract-2 §6); absent: a plugin keeps them in SQLite. */
  rules?: RuleBook;
};

export type Plugin = {
  name: string;
  routes?: readonly ExtraRoute[];
  /** Called after each accepted decision is committed, whatever its transport (the
   *  host runs it: server/decisions.ts), e.g. the audit's who and how. */
  onDecisionAccepted?: DecisionObserver;
  /** Checks a decision's `remember` before it is decided and makes its rule after (the
   *  rule engine; the first plugin that has one). */
  rememberGate?: RememberGate;

  /** Called with the history's bound each time the event history is pruned (what the
   *  plugin keeps per request, such as the audit log, goes on the same schedule). */
  prune?(now: number, limits: HistoryLimits): void;
  /** Called once the server listens. */
  start?(): void | Promise<void>;
  /** Called on shutdown once the broker drains (no new requests), long-polls are answered
   *  and sockets closed, before the host's last commit: what it still appends or cancels
   *  is stored. */
  stop?(): void | Promise<void>;
};

export type PluginFactory = (ctx: PluginContext) => Plugin | Promise<Plugin>;
