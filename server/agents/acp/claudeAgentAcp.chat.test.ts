/** `serve --agent acp:claude-agent-acp`: chat sessions with the real claude-agent-acp, offline. */
import { acpChatSuite } from './testing/acpChatSuite.ts';
import { claudeAgentAcp } from './testing/agents.ts';

acpChatSuite(claudeAgentAcp);
