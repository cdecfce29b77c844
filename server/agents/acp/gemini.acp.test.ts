/**
 * `bin/gatehouse acp -- gemini --acp` with the real Gemini CLI (pinned, installed into the
 * agent cache on first use), offline against a fake Gemini API.
 */
import { acpProxySuite } from './testing/acpProxySuite.ts';
import { gemini } from './testing/agents.ts';

acpProxySuite(gemini, { noEditor: true });
