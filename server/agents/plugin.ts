/**
 * The agents area's one registration point: `serve` loads this module's default export
 * (a PluginFactory, see server/plugin.ts). It opens `<data-dir>/agents.db` and wires:
 * the audit views (their rows live in the event store, written with the events: SPEC.md
 * CORE-L2; an agents.db from before that has its audit rows and rules imported once,
 * and the rules live in the event database too: CORE-L8), the rule
 * engine to the committed event stream and as the gate of "remember" decisions (checked
 * before, rule made after), and the chat
 * sessions with the selected agent (`--agent demo|claude|codex|acp:CMD`,
 * else Claude when reachable, else the demo agent). Routes: /api/sessions, /api/rules,
 * /api/audit.
 */
import { realpathSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Plugin, PluginContext } from '../plugin.ts';
import { AuditLog } from '../audit/auditLog.ts';
import { RuleEngine } from '../rules/ruleEngine.ts';
import { RuleStore } from '../rules/ruleStore.ts';
import type { ChatAgent } from './chatAgent.ts';
import { ChatService, defaultAgentKind, type AgentKind } from './chatService.ts';
import { createAcpAgent, isAcpAgentKind } from './acp/acpChatAgent.ts';
import { createClaudeAgent } from './claudeAgent.ts';
import { createCodexAgent } from './codex/codexChatAgent.ts';
import { SqliteEventStore } from '../store/sqliteStore.ts';
import { importAgentsRules, openAgentsDb } from './db.ts';
import { createDemoAgent } from './demoAgent.ts';
import { SessionStore } from './sessions.ts';

export default function createAgentsPlugin(ctx: PluginContext): Plugin {
  const { config, host, store, logger } = ctx;
  const agentsDbFile = join(config.dataDir, 'agents.db');
  const db = openAgentsDb(agentsDbFile);
  // The SQLite store's synchronous reads: the rule engine's lookups are synchronous
  // (RememberGate). Another store's lookups answer from the broker's memory (the
  // unresolved requests: what a remember is checked against, and the engine keeps the
  // checked facts for the rule it makes after the commit).
  const sqlite = store instanceof SqliteEventStore ? store : undefined;
  const imported = sqlite?.importLegacyAudit(agentsDbFile) ?? 0;
  if (imported > 0) logger.info(`imported ${imported} audit rows from agents.db into the event store`);
  const audit = new AuditLog(store);
  // The rules live beside the events (one database, SPEC.md CORE-L8); a shared store
  // brings its own (ctx.rules, contract-2 §6), else a store that is not SQLite keeps them
  // in agents.db.
  const rulesDb = sqlite ? sqlite.database() : db;
  const importedRules = sqlite && !ctx.rules ? importAgentsRules(rulesDb, db) : 0;
  if (importedRules > 0) logger.info(`imported ${importedRules} rules from agents.db into the event store`);
  const rules =
    ctx.rules ??
    new RuleStore(rulesDb, (change) =>
      logger.warn(`a rule stored by an older version was ${change.change === 'exact' ? 'narrowed to its exact command' : 'revoked'}`, change),
    );
  const engine = new RuleEngine({
    host,
    rules,
    logger,
    lookup: (requestId) => {
      if (sqlite) {
        const view = sqlite.getRequestNow(requestId);
        return view ? { toolName: view.toolName, input: view.input, context: view.context, status: view.status } : undefined;
      }
      const event = host.unresolvedEvents().find((e) => e.id === requestId);
      return event ? { toolName: event.toolName, input: event.input, context: event.context, status: 'pending' } : undefined;
    },
  });
  engine.start();

  const workspaceRoot = join(config.dataDir, 'workspace');
  const agents: Partial<Record<AgentKind, ChatAgent>> = { demo: createDemoAgent({ workspaceRoot }), claude: createClaudeAgent() };
  const defaultAgent: AgentKind = config.agent ?? defaultAgentKind();
  if (isAcpAgentKind(defaultAgent)) agents[defaultAgent] = createAcpAgent(defaultAgent);
  if (defaultAgent === 'codex') agents.codex = createCodexAgent({ bin: config.codexBin ?? 'codex', logger });
  const sessions = new SessionStore({ db, host, logger });
  const chat = new ChatService({
    host,
    choices: ctx.agentChoices,
    sessions,
    agents,
    defaultAgent,
    defaultCwd: (agent) => (agent === 'demo' ? workspaceRoot : process.cwd()),
    allowedCwdRoots: sessionRoots(),
    requestTimeoutMs: config.requestTimeoutMs,
    logger,
  });
  logger.debug('server', 'agents ready', { agent: defaultAgent });

  return {
    name: 'agents',
    routes: [
      { path: '/api/sessions', routes: chat.routes() },
      { path: '/api/rules', routes: engine.routes() },
      { path: '/api/audit', routes: audit.routes() },
    ],
    rememberGate: engine,
    async start() {
      await chat.recoverInterrupted();
    },
    async stop() {
      await chat.stop();
      await Promise.all(Object.values(agents).map((agent) => agent?.stop?.()));
      engine.stop();
      db.close();
    },
  };
}

/** Where Claude sessions may run: the server's working folder, and the folders listed in
 *  GATEHOUSE_SESSION_ROOTS (separated by `:`), each with its subfolders. */
function sessionRoots(env: NodeJS.ProcessEnv = process.env): string[] {
  const listed = (env.GATEHOUSE_SESSION_ROOTS ?? '').split(':').filter(Boolean);
  return [process.cwd(), ...listed].flatMap((root) => {
    try {
      return [realpathSync(resolve(root))];
    } catch {
      return [];
    }
  });
}
