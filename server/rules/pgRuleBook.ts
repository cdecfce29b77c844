/**
 * Remembered rules in PostgreSQL (contract-2 §6, SPEC.md TEAM-S4): one set of rules for
 * every instance on the database. The active rules are kept in memory (the gate matches
 * every new request, and the remember gate runs inside a decision's synchronous step:
 * RuleBook, ruleStore.ts); `refresh()` reads one version row and rereads the rules only
 * when it moved, so a rule made or revoked on one instance is in force on every other
 * from its next request on.
 *
 * `add` answers from memory and writes behind, in order (a revoke waits for the writes
 * before it): the rule is in this instance's gate at once and durable at `stored(rule)`,
 * which "Always allow" awaits before its answer says the rule is made (SPEC.md TEAM-G1).
 * Two instances remembering the same rule at once make one row (a partial UNIQUE index
 * over the active rules); the loser's memory takes the winner's row at its next reload.
 * A rule `add` found in memory is checked in the database at `stored`: revoked on another
 * instance since this one read the rules, it is made again instead of answered as made.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Rule } from './ruleMatch.ts';
import { type NewRule, type RuleBook, type RuleRow, ruleValues, sameRule, toRule } from './ruleStore.ts';
import { inTransaction } from '../store/sharedPg.ts';

export class PgRuleBook implements RuleBook {
  private active: Rule[] = [];
  /** Added here and not yet stored (kept across reloads until stored). */
  private unsaved: Rule[] = [];
  private version = -1;
  private writes: Promise<void> = Promise.resolve();
  /** Each write not settled yet, by rule id: what `stored(rule)` answers. */
  private readonly inFlight = new Map<string, Promise<Rule>>();
  private failure: Error | undefined;

  private constructor(private readonly pool: pg.Pool) {}

  static async open(pool: pg.Pool): Promise<PgRuleBook> {
    const book = new PgRuleBook(pool);
    await book.reload();
    return book;
  }

  list(): Rule[] {
    return this.active;
  }

  get(id: string): Rule | undefined {
    return this.active.find((rule) => rule.id === id);
  }

  add(rule: NewRule): Rule {
    const same = this.active.find((r) => sameRule(r, rule));
    if (same) return same;
    const made: Rule = { ...rule, id: `rule-${randomUUID().slice(0, 8)}` };
    this.active = [...this.active, made];
    this.unsaved.push(made);
    const done = this.writes
      .then(() => this.insert(made))
      .then(
        (kept) => {
          // Another instance stored the same rule first: its row is the rule.
          if (kept !== made) this.active = this.active.map((r) => (r === made ? kept : r));
          return kept;
        },
        (error: unknown) => {
          this.failure ??= error as Error;
          this.active = this.active.filter((r) => r !== made);
          throw error;
        },
      )
      .finally(() => {
        this.unsaved = this.unsaved.filter((r) => r !== made);
        this.inFlight.delete(made.id);
      });
    this.inFlight.set(made.id, done);
    // The chain keeps the writes in order; a failure is reported by stored() and settled().
    this.writes = done.then(
      () => {},
      () => {},
    );
    return made;
  }

  async stored(rule: Rule): Promise<Rule> {
    const pending = this.inFlight.get(rule.id);
    if (pending) return pending;
    // Settled already: stored when it (or the equal row that won) is active.
    const kept = this.active.find((r) => r.id === rule.id) ?? this.active.find((r) => sameRule(r, rule));
    if (!kept) throw new Error(`the rule ${rule.id} is not stored`);
    // `add` found it in memory, which may predate a revocation on another instance:
    // "Always allow" must not answer with a rule that is no longer in force. Revoked
    // meanwhile, the rule is made again (a new row), as a revoked rule may be.
    const row = (await this.pool.query<RuleRow>('SELECT * FROM rules WHERE id = $1 AND revoked_at IS NULL', [kept.id])).rows[0];
    if (row) return toRule(row);
    await this.reload();
    const { id: _revoked, ...again } = kept;
    return this.stored(this.add(again));
  }

  /** The rule as stored: `rule`, or the equal active row another instance stored first. */
  private async insert(rule: Rule): Promise<Rule> {
    return inTransaction(this.pool, async (client) => {
      const inserted = await client.query(
        `INSERT INTO rules (id, tool_name, pattern, kind, decision, scope, scope_value, created_at, created_by, source_request_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (tool_name, pattern, kind, decision, scope, COALESCE(scope_value, '')) WHERE revoked_at IS NULL DO NOTHING`,
        ruleValues(rule),
      );
      if ((inserted.rowCount ?? 0) === 0) {
        const winner = (
          await client.query<RuleRow>(
            `SELECT * FROM rules WHERE revoked_at IS NULL AND tool_name = $1 AND pattern = $2 AND kind = $3 AND decision = $4 AND scope = $5 AND COALESCE(scope_value, '') = $6`,
            [rule.toolName, rule.pattern, rule.kind, rule.decision, rule.scope, rule.scopeValue ?? ''],
          )
        ).rows[0];
        if (!winner) throw new Error('the rule was not stored (an equal rule was being revoked)');
        return toRule(winner);
      }
      await client.query('UPDATE rules_version SET version = version + 1');
      return rule;
    });
  }

  async revoke(id: string, at: number): Promise<boolean> {
    await this.writes;
    const revoked = await inTransaction(this.pool, async (client) => {
      const changed = (await client.query('UPDATE rules SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL', [at, id])).rowCount ?? 0;
      if (changed > 0) await client.query('UPDATE rules_version SET version = version + 1');
      return changed > 0;
    });
    await this.reload();
    return revoked;
  }

  async refresh(): Promise<void> {
    const version = (await this.pool.query<{ version: number }>('SELECT version FROM rules_version')).rows[0]?.version ?? 0;
    if (version !== this.version) await this.reload();
  }

  async settled(): Promise<void> {
    await this.writes;
    const failure = this.failure;
    this.failure = undefined;
    if (failure) throw failure;
  }

  /** The stored active rules and their version, read in one snapshot. */
  private async reload(): Promise<void> {
    const { rules, version } = await inTransaction(this.pool, async (client) => {
      await client.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
      const v = (await client.query<{ version: number }>('SELECT version FROM rules_version')).rows[0]?.version ?? 0;
      const rows = (await client.query<RuleRow>('SELECT * FROM rules WHERE revoked_at IS NULL ORDER BY created_at, id')).rows;
      return { rules: rows.map(toRule), version: v };
    });
    const pending = this.unsaved.filter((mine) => !rules.some((r) => sameRule(r, mine)));
    this.active = [...rules, ...pending];
    this.version = version;
  }
}
