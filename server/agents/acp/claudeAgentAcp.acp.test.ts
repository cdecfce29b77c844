/**
 * `bin/gatehouse acp -- claude-agent-acp` with the real claude-agent-acp (Claude Code
 * 2.1.83 inside; pinned, installed into the agent cache on first use), offline against
 * the fake Anthropic Messages API.
 */
import { acpProxySuite } from './testing/acpProxySuite.ts';
import { claudeAgentAcp } from './testing/agents.ts';

acpProxySuite(claudeAgentAcp);
