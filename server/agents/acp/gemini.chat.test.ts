/** `serve --agent 'acp:gemini --acp …'`: chat sessions with the real Gemini CLI, offline. */
import { acpChatSuite } from './testing/acpChatSuite.ts';
import { gemini } from './testing/agents.ts';

acpChatSuite(gemini);
