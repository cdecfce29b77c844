/**
 * Remembered rules at work: every new request is checked against the active rules and,
 * when one covers it, decided at once with `decidedBy: "rule:<id>"` (so the request
 * still gets its `permission-request` event, then `permission-resolved`). A decision
 * carrying `remember: {scope, prefix?}` is checked BEFORE it is decided (`checkRemember`:
 * a scope the request cannot have, a prefix the server would not propose), then makes
 * ONE rule (`applyRemember`): the exact request, or the chosen prefix, or none when the
 * policy refuses (the decision counts all the same, the answer says why). The new rule
 * then also resolves the unresolved requests it covers. Routes: `GET/POST /api/rules`,
 * `POST /api/rules/proposal` (what the card shows before saving), `DELETE /api/rules/:id`.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import {
  decidedByWire,
  type RevokedAnswer,
  type RuleList,
  type RuleView,
  DECISIONS,
  ERROR_CODES,
  humanMustLookOf,
  parseWith,
  RULE_SCOPES,
  ruleProposalBody,
  type Decision,
  type PermissionRequestEvent,
  type RememberOutcome,
  type RuleProposal,
  type RuleScope,
  type SequencedEvent,
} from '../../protocol/index.ts';
import { errorResponseRaw } from '../http/errors.ts';
import type { Logger } from '../log.ts';
import type { DecisionVia, RememberGate, RememberRequest } from '../decisions.ts';
import { commandPolicy } from './rememberPolicy.ts';
import { prefixWords } from './bashSegments.ts';
import { kindOf, MAX_PATTERN_LENGTH, proposeRule, ruleCovers, scopeValueOf, type RequestFacts, type Rule, type RuleKind } from './ruleMatch.ts';
import type { RuleBook } from './ruleStore.ts';
import { realGlob } from './pathRules.ts';

/** What the engine needs from the broker host (BrokerHost satisfies it). Its decisions
 *  go through the host's one decision path, so their follow-ups (the audit's who and
 *  how) run as for a human's (server/decisions.ts). */
export type RuleHost = {
  onCommitted(listener: (events: readonly SequencedEvent[], source: 'local' | 'log') => void): () => void;
  decide(args: { requestId: string; decision: Decision; decidedBy: string; message?: string; via: DecisionVia }): Promise<{ answer: { status: string } }>;
  unresolvedEvents(): PermissionRequestEvent[];
};

/** A stored request's facts and status (undefined: no such request). */
export type RequestLookup = (requestId: string) => (RequestFacts & { status?: string }) | undefined;

const createRuleBody = z.object({
  toolName: z.string().min(1).max(200),
  pattern: z.string().min(1).max(MAX_PATTERN_LENGTH),
  /** Bash only: `prefix` (the default, as before) or `exact` (the whole command). */
  match: z.enum(['prefix', 'exact']).optional(),
  decision: z.enum(DECISIONS).default('allow'),
  scope: z.enum(RULE_SCOPES),
  /** Session id (scope session) or project folder (scope project). */
  scopeValue: z.string().min(1).max(4096).optional(),
});

const SCOPE_NEEDS: Record<Exclude<RuleScope, 'global'>, string> = {
  session: 'a request with a session id (context.sessionId)',
  project: 'a request with a folder (context.cwd)',
};

/** How many checked `remember` facts are kept for the rule made after the commit. */
const REMEMBERED_FACTS = 1_000;

export class RuleEngine implements RememberGate {
  private off?: () => void;
  /** The facts each passed `remember` check read, for its `applyRemember` after the
   *  commit: a lookup that answers from the broker's memory (a shared store's) no longer
   *  finds a request once it is decided. Bounded: a check whose decision lost is never applied. */
  private readonly checkedFacts = new Map<string, RequestFacts & { status?: string }>();
  constructor(private readonly deps: { host: RuleHost; rules: RuleBook; lookup: RequestLookup; logger: Logger; now?: () => number }) {}

  start(): void {
    this.off = this.deps.host.onCommitted((events, source) => {
      // Another instance's requests are its rules' to decide (docs/cluster.md).
      if (source === 'log') return;
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
    // Where the agent says a human must look, no remembered rule decides (protocol/agentChoices.ts).
    if (humanMustLookOf(facts.context)) return undefined;
    const rules = this.deps.rules.list();
    return (
      rules.find((rule) => rule.decision === 'deny' && ruleCovers(rule, facts)) ?? rules.find((rule) => rule.decision === 'allow' && ruleCovers(rule, facts))
    );
  }

  async tryDecide(event: Pick<PermissionRequestEvent, 'id' | 'toolName' | 'input' | 'context'>): Promise<boolean> {
    let rule: Rule | undefined;
    try {
      // Another instance's new or revoked rule counts from this request on.
      await this.deps.rules.refresh();
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
        decidedBy: decidedByWire.rule(rule.id),
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

  /** The facts a remembered rule is made from: the edited input when there is one. */
  private factsFor(req: Pick<RememberRequest, 'requestId' | 'updatedInput'>): (RequestFacts & { status?: string }) | undefined {
    const facts = this.deps.lookup(req.requestId) ?? this.checkedFacts.get(req.requestId);
    if (!facts) return undefined;
    return req.updatedInput ? { ...facts, input: req.updatedInput } : facts;
  }

  /** The card's view: the rules a decision could make, and which scopes the request has. */
  proposal(req: { requestId: string; decision: Decision; updatedInput?: Record<string, unknown> }): RuleProposal | undefined {
    const facts = this.factsFor(req);
    if (!facts) return undefined;
    const mustLook = humanMustLookOf(facts.context);
    const proposal = mustLook
      ? { exact: null, prefixes: [], refused: `the agent says a human must look at each of these (${mustLook}): no rule` }
      : proposeRule(facts, req.decision);
    return {
      requestId: req.requestId,
      toolName: facts.toolName,
      exact: proposal.exact,
      prefixes: proposal.prefixes,
      ...(proposal.refused ? { refused: proposal.refused } : {}),
      scopes: RULE_SCOPES.map((scope) => {
        const value = scopeValueOf(scope, facts);
        if (value === null) return { scope, available: false, reason: `needs ${SCOPE_NEEDS[scope as Exclude<RuleScope, 'global'>]}` };
        return { scope, available: true, ...(value !== undefined ? { value } : {}) };
      }),
    };
  }

  /** Before deciding: an error text (invalid-message) when the `remember` cannot be
   *  honoured as asked. A request that is not pending passes: the broker answers it. */
  checkRemember(req: RememberRequest): string | undefined {
    try {
      return this.check(req);
    } catch (error) {
      this.deps.logger.error('remember check failed', { requestId: req.requestId, error: String(error) });
      return 'remember: could not be checked (internal error); nothing was decided';
    }
  }

  private check(req: RememberRequest): string | undefined {
    const found = this.deps.lookup(req.requestId);
    if (found) {
      this.checkedFacts.delete(req.requestId);
      this.checkedFacts.set(req.requestId, found);
      if (this.checkedFacts.size > REMEMBERED_FACTS) this.checkedFacts.delete(this.checkedFacts.keys().next().value!);
    }
    const facts = this.factsFor(req);
    if (!facts || (facts.status !== undefined && facts.status !== 'pending')) return undefined;
    const { scope, prefix } = req.remember;
    const mustLook = humanMustLookOf(facts.context);
    if (mustLook) return `remember: the agent says a human must look at each of these (${mustLook}), so no rule can be made for it`;
    if (scopeValueOf(scope, facts) === null)
      return `remember.scope: "${scope}" needs ${SCOPE_NEEDS[scope as Exclude<RuleScope, 'global'>]}; this request has none`;
    if (prefix !== undefined) {
      const proposal = proposeRule(facts, req.decision);
      if (!proposal.prefixes.some((p) => p.pattern === prefix)) {
        const offered = proposal.prefixes.map((p) => JSON.stringify(p.pattern)).join(', ');
        return `remember.prefix: ${JSON.stringify(prefix.slice(0, 200))} is not a rule the server proposes for this request (${offered ? `it proposes ${offered}` : (proposal.refused ?? 'it proposes no prefix')})`;
      }
    }
    return undefined;
  }

  /** After the decision is committed: make the one rule, and once it is stored let it
   *  resolve what it covers. The answer says `created` only for a stored rule (a shared
   *  store writes behind its memory, pgRuleBook.ts; SPEC.md TEAM-G1). */
  async applyRemember(req: RememberRequest): Promise<RememberOutcome> {
    try {
      return await this.apply(req);
    } catch (error) {
      this.deps.logger.error('remember failed', { requestId: req.requestId, error: String(error) });
      return { created: false, reason: 'no rule was made: internal error' };
    }
  }

  private async apply(req: RememberRequest): Promise<RememberOutcome> {
    const facts = this.factsFor(req);
    this.checkedFacts.delete(req.requestId);
    if (!facts) return { created: false, reason: 'the request is no longer known' };
    const scopeValue = scopeValueOf(req.remember.scope, facts);
    if (scopeValue === null)
      return { created: false, reason: `"${req.remember.scope}" needs ${SCOPE_NEEDS[req.remember.scope as Exclude<RuleScope, 'global'>]}` };
    const proposal = proposeRule(facts, req.decision);
    const choice = req.remember.prefix === undefined ? proposal.exact : proposal.prefixes.find((p) => p.pattern === req.remember.prefix);
    if (!choice) {
      const reason = proposal.refused ?? 'the chosen prefix is not one the server proposes';
      this.deps.logger.debug('permissions', 'no rule remembered', { requestId: req.requestId, reason });
      return { created: false, reason: `no rule was made: ${reason}` };
    }
    const added = this.deps.rules.add({
      toolName: facts.toolName,
      pattern: choice.pattern,
      kind: choice.kind,
      decision: req.decision,
      scope: req.remember.scope,
      ...(scopeValue !== undefined ? { scopeValue } : {}),
      createdAt: this.now(),
      createdBy: req.decidedBy,
      sourceRequestId: req.requestId,
    });
    let rule: Rule;
    try {
      rule = await this.deps.rules.stored(added);
    } catch (error) {
      // The decision stands; the human is told there is no rule (nothing stored, none in force).
      this.deps.logger.error('a remembered rule was not stored', { rule: added.id, requestId: req.requestId, error: String(error) });
      return { created: false, reason: 'no rule was made: it could not be stored' };
    }
    this.resolveCovered();
    return {
      created: true,
      rule: {
        id: rule.id,
        toolName: rule.toolName,
        kind: rule.kind,
        pattern: rule.pattern,
        scope: rule.scope,
        ...(rule.scopeValue !== undefined ? { scopeValue: rule.scopeValue } : {}),
      },
    };
  }

  /** Decide every unresolved request an active rule covers. */
  resolveCovered(): void {
    for (const event of this.deps.host.unresolvedEvents()) void this.tryDecide(event);
  }

  /** A rule made over the API: Bash `prefix` (default) or `exact`; an allow rule the
   *  policy refuses, or a path glob that is not absolute, is refused with the reason. */
  private kindForCreate(body: {
    toolName: string;
    pattern: string;
    decision: Decision;
    match?: 'prefix' | 'exact' | undefined;
  }): { ok: true; kind: RuleKind } | { ok: false; error: string } {
    const kind = kindOf(body.toolName);
    switch (kind) {
      case 'bash-exact':
      case 'bash-prefix': {
        const chosen: RuleKind = body.match === 'exact' ? 'bash-exact' : 'bash-prefix';
        if (chosen === 'bash-prefix' && !prefixWords(body.pattern)?.length) return { ok: false, error: 'pattern: a Bash prefix must be one simple command' };
        if (body.decision === 'allow') {
          const policy = commandPolicy(body.pattern);
          if (!policy.ok) return { ok: false, error: `pattern: an allow rule cannot cover it: ${policy.reason}` };
        }
        return { ok: true, kind: chosen };
      }
      case 'path-glob':
        if (!body.pattern.startsWith('/')) return { ok: false, error: 'pattern: a path glob must be absolute (start with /)' };
        return { ok: true, kind };
      case 'exact-input':
        return { ok: true, kind };
      default: {
        const never: never = kind;
        return never;
      }
    }
  }

  routes(): Hono {
    const app = new Hono();
    app.get('/', async (c) => {
      await this.deps.rules.refresh();
      return c.json<RuleList>({ rules: this.deps.rules.list() });
    });
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
      const kind = this.kindForCreate(parsed.value);
      if (!kind.ok) return errorResponseRaw(400, ERROR_CODES.invalidMessage, kind.error);
      const added = this.deps.rules.add({
        toolName: parsed.value.toolName,
        // a path glob is stored on real folders, resolved now and never again (pathRules.ts, realGlob)
        pattern: kind.kind === 'path-glob' ? realGlob(parsed.value.pattern) : parsed.value.pattern,
        kind: kind.kind,
        decision: parsed.value.decision,
        scope,
        ...(scope !== 'global' && scopeValue ? { scopeValue } : {}),
        createdAt: this.now(),
        createdBy: decidedByWire.http,
      });
      // Answered once stored (a shared store writes behind the gate's memory).
      const rule = await this.deps.rules.stored(added);
      this.resolveCovered();
      return c.json<RuleView>(rule, 201);
    });
    app.post('/proposal', async (c) => {
      let body: unknown;
      try {
        body = await c.req.json();
      } catch {
        return errorResponseRaw(400, ERROR_CODES.invalidMessage, 'body: not valid JSON');
      }
      const parsed = parseWith(ruleProposalBody, body);
      if (!parsed.ok) return errorResponseRaw(400, ERROR_CODES.invalidMessage, parsed.error);
      const proposal = this.proposal({
        requestId: parsed.value.requestId,
        decision: parsed.value.decision,
        ...(parsed.value.updatedInput ? { updatedInput: parsed.value.updatedInput } : {}),
      });
      if (!proposal) return errorResponseRaw(404, ERROR_CODES.unknownRequest, `no request with id ${parsed.value.requestId}`);
      return c.json<RuleProposal>(proposal);
    });
    app.delete('/:id', async (c) => {
      const id = c.req.param('id');
      if (!(await this.deps.rules.revoke(id, this.now()))) return errorResponseRaw(404, ERROR_CODES.notFound, `no active rule ${id}`);
      return c.json<RevokedAnswer>({ id, revoked: true });
    });
    return app;
  }
}
