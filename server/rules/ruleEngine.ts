/**
 * Remembered rules at work: every new request is checked against the active rules and,
 * when one covers it, decided at once with `decidedBy: "rule:<id>"` (so the request
 * still gets its `permission-request` event, then `permission-resolved`). A decision
 * carrying `remember: {scope}` creates rules, which then also resolve the unresolved
 * requests they cover. Routes: `GET/POST /api/rules`, `DELETE /api/rules/:id`.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { DECISIONS, ERROR_CODES, parseWith, RULE_SCOPES, type Decision, type PermissionRequestEvent, type RuleScope, type SequencedEvent } from '../../protocol/index.ts';
import { errorResponseRaw } from '../http/errors.ts';
import type { Logger } from '../log.ts';
import { kindOf, patternsFor, ruleCovers, scopeValueOf, type RequestFacts, type Rule } from './ruleMatch.ts';
import type { RuleStore } from './ruleStore.ts';

/** What the engine needs from the broker host (BrokerHost satisfies it). */
export type RuleHost = {
  onCommitted(listener: (events: readonly SequencedEvent[]) => void): () => void;
  decide(args: { requestId: string; decision: Decision; decidedBy: string; message?: string; via?: string }): Promise<{ answer: { status: string } }>;
  unresolvedEvents(): PermissionRequestEvent[];
};

export type RequestLookup = (requestId: string) => RequestFacts | undefined;

const createRuleBody = z.object({
  toolName: z.string().min(1).max(200),
  pattern: z.string().min(1).max(4096),
  decision: z.enum(DECISIONS).default('allow'),
  scope: z.enum(RULE_SCOPES),
  /** Session id (scope session) or project folder (scope project). */
  scopeValue: z.string().min(1).max(4096).optional(),
});

export class RuleEngine {
  private off?: () => void;
  constructor(
    private readonly deps: { host: RuleHost; rules: RuleStore; lookup: RequestLookup; logger: Logger; now?: () => number },
  ) {}

  start(): void {
    this.off = this.deps.host.onCommitted((events) => {
      for (const event of events) if (event.type === 'permission-request') setImmediate(() => void this.tryDecide(event));
    });
  }

  stop(): void {
    this.off?.();
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  /** The first active rule covering the request, deny rules first. */
  match(facts: RequestFacts): Rule | undefined {
    const rules = this.deps.rules.list();
    return rules.find((rule) => rule.decision === 'deny' && ruleCovers(rule, facts)) ?? rules.find((rule) => rule.decision === 'allow' && ruleCovers(rule, facts));
  }

  async tryDecide(event: Pick<PermissionRequestEvent, 'id' | 'toolName' | 'input' | 'context'>): Promise<boolean> {
    let rule: Rule | undefined;
    try {
      rule = this.match({ toolName: event.toolName, input: event.input, context: event.context });
    } catch (error) {
      this.deps.logger.warn('rule matching failed', { requestId: event.id, error: String(error) });
      return false;
    }
    if (!rule) return false;
    try {
      const result = await this.deps.host.decide({
        requestId: event.id,
        decision: rule.decision,
        decidedBy: `rule:${rule.id}`,
        via: 'rule',
        ...(rule.decision === 'deny' ? { message: `Denied by the remembered rule ${rule.id} (${rule.toolName}: ${rule.pattern}).` } : {}),
      });
      this.deps.logger.debug('permissions', 'rule decided', { requestId: event.id, rule: rule.id, result: result.answer.status });
      return result.answer.status === 'accepted';
    } catch (error) {
      this.deps.logger.debug('permissions', 'rule decision failed', { requestId: event.id, error: String(error) });
      return false;
    }
  }

  /** A decision with `remember`: make its rules, then let them resolve what they cover. */
  remember(info: { requestId: string; decision: Decision; decidedBy: string; scope: RuleScope }): Rule[] {
    const facts = this.deps.lookup(info.requestId);
    if (!facts) return [];
    const scopeValue = scopeValueOf(info.scope, facts);
    if (scopeValue === null) {
      this.deps.logger.warn('cannot remember: the request lacks what the scope needs', { requestId: info.requestId, scope: info.scope });
      return [];
    }
    const created = patternsFor(facts).map((pattern) =>
      this.deps.rules.add({
        toolName: facts.toolName,
        pattern,
        kind: kindOf(facts.toolName),
        decision: info.decision,
        scope: info.scope,
        ...(scopeValue !== undefined ? { scopeValue } : {}),
        createdAt: this.now(),
        createdBy: info.decidedBy,
        sourceRequestId: info.requestId,
      }),
    );
    if (created.length) this.resolveCovered();
    return created;
  }

  /** Decide every unresolved request an active rule covers. */
  resolveCovered(): void {
    for (const event of this.deps.host.unresolvedEvents()) void this.tryDecide(event);
  }

  routes(): Hono {
    const app = new Hono();
    app.get('/', (c) => c.json({ rules: this.deps.rules.list() }));
    app.post('/', async (c) => {
      let body: unknown;
      try {
        body = await c.req.json();
      } catch {
        return errorResponseRaw(400, ERROR_CODES.invalidMessage, 'body: not valid JSON');
      }
      const parsed = parseWith(createRuleBody, body);
      if (!parsed.ok) return errorResponseRaw(400, ERROR_CODES.invalidMessage, parsed.error);
      const { scope, scopeValue } = parsed.value;
      if (scope !== 'global' && !scopeValue) return errorResponseRaw(400, ERROR_CODES.invalidMessage, `scopeValue: required for scope ${scope}`);
      const rule = this.deps.rules.add({
        toolName: parsed.value.toolName,
        pattern: parsed.value.pattern,
        kind: kindOf(parsed.value.toolName),
        decision: parsed.value.decision,
        scope,
        ...(scope !== 'global' ? { scopeValue } : {}),
        createdAt: this.now(),
        createdBy: 'http',
      });
      this.resolveCovered();
      return c.json(rule, 201);
    });
    app.delete('/:id', (c) => {
      const id = c.req.param('id');
      if (!this.deps.rules.revoke(id, this.now())) return errorResponseRaw(404, ERROR_CODES.notFound, `no active rule ${id}`);
      return c.json({ id, revoked: true });
    });
    return app;
  }
}
