/** Remembered rules in SQLite: add, list (active), revoke. */
import { randomUUID } from 'node:crypto';
import type { AgentsDb } from '../agents/db.ts';
import type { Rule } from './ruleMatch.ts';

type Row = {
  id: string;
  tool_name: string;
  pattern: string;
  kind: Rule['kind'];
  decision: Rule['decision'];
  scope: Rule['scope'];
  scope_value: string | null;
  created_at: number;
  created_by: string;
  source_request_id: string | null;
};

const toRule = (row: Row): Rule => ({
  id: row.id,
  toolName: row.tool_name,
  pattern: row.pattern,
  kind: row.kind,
  decision: row.decision,
  scope: row.scope,
  ...(row.scope_value !== null ? { scopeValue: row.scope_value } : {}),
  createdAt: row.created_at,
  createdBy: row.created_by,
  ...(row.source_request_id !== null ? { sourceRequestId: row.source_request_id } : {}),
});

export class RuleStore {
  /** The active rules, read once and kept until they change: every new request is
   *  matched against them, so reading SQLite each time would cost every request. */
  private active: Rule[] | null = null;

  constructor(private readonly db: AgentsDb) {}

  add(rule: Omit<Rule, 'id'>): Rule {
    const existing = this.db
      .prepare(
        `SELECT * FROM rules WHERE revoked_at IS NULL AND tool_name = ? AND pattern = ? AND decision = ? AND scope = ? AND scope_value IS ?`,
      )
      .get(rule.toolName, rule.pattern, rule.decision, rule.scope, rule.scopeValue ?? null) as Row | undefined;
    if (existing) return toRule(existing);
    this.active = null;
    const id = `rule-${randomUUID().slice(0, 8)}`;
    this.db
      .prepare(
        `INSERT INTO rules (id, tool_name, pattern, kind, decision, scope, scope_value, created_at, created_by, source_request_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(id, rule.toolName, rule.pattern, rule.kind, rule.decision, rule.scope, rule.scopeValue ?? null, rule.createdAt, rule.createdBy, rule.sourceRequestId ?? null);
    return { ...rule, id };
  }

  list(): Rule[] {
    this.active ??= (this.db.prepare(`SELECT * FROM rules WHERE revoked_at IS NULL ORDER BY created_at, id`).all() as Row[]).map(toRule);
    return this.active;
  }

  get(id: string): Rule | undefined {
    const row = this.db.prepare(`SELECT * FROM rules WHERE id = ? AND revoked_at IS NULL`).get(id) as Row | undefined;
    return row ? toRule(row) : undefined;
  }

  revoke(id: string, at: number): boolean {
    this.active = null;
    return this.db.prepare(`UPDATE rules SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`).run(at, id).changes > 0;
  }
}
