/**
 * Remembered rules in SQLite: add, list (active), revoke; and, once per database, the
 * migration of rules stored by the version before "wave 2" (docs/rules.md, "Rules stored
 * by an older version"): an "Always allow" Bash rule, which was a per-segment prefix,
 * becomes the exact command it names; an allow rule the policy refuses is revoked.
 *
 * `RuleBook` is what the rule engine needs of any rule store: the active rules from
 * memory (every new request is matched against them, and the remember gate runs inside
 * the decision's synchronous step), writes that are visible to this instance's gate at
 * once and durable by `stored(rule)` / `settled()`, and `refresh()` to see other instances' changes. This
 * file's `RuleStore` is the SQLite one (durable at return, one instance: refresh is a
 * no-op); `pgRuleBook.ts` is the shared one (contract-2 §6, SPEC.md TEAM-S4).
 */
import { randomUUID } from 'node:crypto';
import type { AgentsDb } from '../agents/db.ts';
import { commandPolicy } from './rememberPolicy.ts';
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

export type NewRule = Omit<Rule, 'id'>;

export interface RuleBook {
  /** The active rules, oldest first, from memory. */
  list(): Rule[];
  get(id: string): Rule | undefined;
  /** The rule, or the equal active one that already exists. At once in `list()`; durable
   *  when `stored(rule)` (or `settled()`) resolves. */
  add(rule: NewRule): Rule;
  /** Resolves with the rule as stored once `add`'s write of it is durable: the equal rule
   *  another instance stored first when it won; rejects when the write failed (the rule is
   *  then gone from `list()`). What "Always allow" waits for before it says the rule is made. */
  stored(rule: Rule): Promise<Rule>;
  /** False when there is no such active rule. */
  revoke(id: string, at: number): Promise<boolean>;
  /** See the changes other instances made (reads the store when they moved). */
  refresh(): Promise<void>;
  /** Every add so far is stored; rejects when one failed. */
  settled(): Promise<void>;
}

/** Two rules that mean the same (one is kept). */
export function sameRule(a: NewRule, b: NewRule): boolean {
  return (
    a.toolName === b.toolName &&
    a.pattern === b.pattern &&
    a.kind === b.kind &&
    a.decision === b.decision &&
    a.scope === b.scope &&
    (a.scopeValue ?? null) === (b.scopeValue ?? null)
  );
}

export type RuleRow = Row;
export { toRule };

export class RuleStore implements RuleBook {
  /** The active rules, read once and kept until they change: every new request is
   *  matched against them, so reading SQLite each time would cost every request. */
  private active: Rule[] | null = null;

  constructor(
    private readonly db: AgentsDb,
    private readonly onMigrated?: (change: { id: string; pattern: string; change: 'exact' | 'revoked'; reason?: string }) => void,
  ) {
    this.migrate();
  }

  /** Runs once per database (recorded in `rules_migrations`), in one transaction. */
  private migrate(): void {
    this.db.exec(`CREATE TABLE IF NOT EXISTS rules_migrations (name TEXT PRIMARY KEY, at INTEGER NOT NULL)`);
    const name = 'remember-v2';
    if (this.db.prepare(`SELECT 1 FROM rules_migrations WHERE name = ?`).get(name)) return;
    const now = Date.now();
    this.db.transaction(() => {
      const rows = this.db.prepare(`SELECT * FROM rules WHERE revoked_at IS NULL AND tool_name = 'Bash' AND decision = 'allow'`).all() as Row[];
      for (const row of rows) {
        const policy = commandPolicy(row.pattern);
        if (!policy.ok) {
          this.db.prepare(`UPDATE rules SET revoked_at = ? WHERE id = ?`).run(now, row.id);
          this.onMigrated?.({ id: row.id, pattern: row.pattern, change: 'revoked', reason: policy.reason });
        } else if (row.kind === 'bash-prefix' && row.source_request_id !== null) {
          // Made by "Always allow" as a prefix of one segment: the human saw more (or
          // other quoting) than this pattern, so it keeps only its exact words.
          this.db.prepare(`UPDATE rules SET kind = 'bash-exact' WHERE id = ?`).run(row.id);
          this.onMigrated?.({ id: row.id, pattern: row.pattern, change: 'exact' });
        }
      }
      this.db.prepare(`INSERT INTO rules_migrations (name, at) VALUES (?, ?)`).run(name, now);
    })();
  }

  add(rule: Omit<Rule, 'id'>): Rule {
    const existing = this.db
      .prepare(
        `SELECT * FROM rules WHERE revoked_at IS NULL AND tool_name = ? AND pattern = ? AND kind = ? AND decision = ? AND scope = ? AND scope_value IS ?`,
      )
      .get(rule.toolName, rule.pattern, rule.kind, rule.decision, rule.scope, rule.scopeValue ?? null) as Row | undefined;
    if (existing) return toRule(existing);
    this.active = null;
    const id = `rule-${randomUUID().slice(0, 8)}`;
    this.db
      .prepare(
        `INSERT INTO rules (id, tool_name, pattern, kind, decision, scope, scope_value, created_at, created_by, source_request_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(...ruleValues({ ...rule, id }));
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

  async revoke(id: string, at: number): Promise<boolean> {
    this.active = null;
    return this.db.prepare(`UPDATE rules SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`).run(at, id).changes > 0;
  }

  /** One instance writes this database: nothing changes behind its back. */
  async refresh(): Promise<void> {}

  /** SQLite writes at once: `add` returned once stored. */
  async stored(rule: Rule): Promise<Rule> {
    return rule;
  }

  /** SQLite writes at once. */
  async settled(): Promise<void> {}
}

/** A rule's values in the column order of both stores' INSERT (id, tool_name, pattern,
 *  kind, decision, scope, scope_value, created_at, created_by, source_request_id). */
export const ruleValues = (rule: NewRule & { id: string }): (string | number | null)[] => [
  rule.id,
  rule.toolName,
  rule.pattern,
  rule.kind,
  rule.decision,
  rule.scope,
  rule.scopeValue ?? null,
  rule.createdAt,
  rule.createdBy,
  rule.sourceRequestId ?? null,
];
