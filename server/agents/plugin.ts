/**
 * The agents area's one registration point: `serve` loads this module's default export
 * (a PluginFactory, see server/plugin.ts). It opens `<data-dir>/agents.db` and wires:
 * the audit log and the rule engine to the committed event stream, the rule engine as
 * the gate of "remember" decisions (checked before, rule made after), and the chat
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
import { openAgentsDb } from './db.ts';
import { createDemoAgent } from './demoAgent.ts';
import { SessionStore } from './sessions.ts';

export default function createAgentsPlugin(ctx: PluginContext): Plugin {
  const { config, host, store, logger } = ctx;
  const db = openAgentsDb(join(config.dataDir, 'agents.db'));
  const audit = new AuditLog(db);
  const offAudit = host.onCommitted((events) => {
    try {
      audit.record(events);
    } catch (error) {
      logger.error('audit write failed', { error: String(error) });
    }
  });
  const rules = new RuleStore(db, (change) =>
    logger.warn(`a rule stored by an older version was ${change.change === 'exact' ? 'narrowed to its exact command' : 'revoked'}`, change),
  );
  const engine = new RuleEngine({
    host,
    rules,
    logger,
    lookup: (requestId) => {
      const view = store.getRequest(requestId);
      return view ? { toolName: view.toolName, input: view.input, context: view.context, status: view.status } : undefined;
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
    prune(now, limits) {
      const rows = audit.prune(now, limits);
      if (rows > 0) logger.debug('store', 'audit pruned', { rows });
    },
    onDecisionAccepted(info) {
      audit.annotate(info.requestId, {
        decidedBy: info.decidedBy,
        via: info.via,
        ...(info.address ? { address: info.address } : {}),
        ...(info.device ? { device: info.device } : {}),
      });
      // An agent's own choice (an "always" above all) goes on record with the decision.
      const view = store.getRequest(info.requestId);
      const chosen = view ? ctx.agentChoices.chosen(view.id, view, view.context) : undefined;
      if (chosen) audit.annotateChoice(info.requestId, chosen);
    },
    rememberGate: engine,
    async stop() {
      await chat.stop();
      for (const agent of Object.values(agents)) agent?.stop?.();
      engine.stop();
      offAudit();
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
