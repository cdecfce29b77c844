/**
 * What a remembered rule is and which requests it covers (pure). A Bash rule is a
 * command prefix matched at word boundaries on EVERY segment (bashSegments.ts); a file
 * tool rule is a path glob; any other tool's rule is its exact input. Scope: `session`
 * (the request's sessionId), `project` (the git root of the request's cwd, else the cwd),
 * `global`.
 */
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { canonicalJson, type Decision, type RuleScope } from '../../protocol/index.ts';
import { anySegmentStartsWith, commandCoveredBy, splitCommand } from './bashSegments.ts';

export type Rule = {
  id: string;
  toolName: string;
  /** Bash: a command prefix; file tools: a path glob; others: canonical JSON of the input. */
  pattern: string;
  kind: 'bash-prefix' | 'path-glob' | 'exact-input';
  decision: Decision;
  scope: RuleScope;
  /** The session id (scope session) or project folder (scope project). */
  scopeValue?: string;
  createdAt: number;
  createdBy: string;
  /** The request whose decision created it. */
  sourceRequestId?: string;
};

export type RequestFacts = { toolName: string; input: Record<string, unknown>; context: { sessionId?: string; cwd?: string } & Record<string, unknown> };

export const FILE_TOOLS: Record<string, string> = {
  Read: 'file_path',
  Write: 'file_path',
  Edit: 'file_path',
  MultiEdit: 'file_path',
  NotebookEdit: 'notebook_path',
};

export function kindOf(toolName: string): Rule['kind'] {
  if (toolName === 'Bash') return 'bash-prefix';
  if (FILE_TOOLS[toolName]) return 'path-glob';
  return 'exact-input';
}

/** The git root of `cwd` (a folder holding `.git`), else `cwd` itself. */
export function projectOf(cwd: string): string {
  let dir = resolve(cwd);
  for (;;) {
    if (existsSync(join(dir, '.git'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return resolve(cwd);
    dir = parent;
  }
}

/** The scope value a rule made from this request gets, or undefined when the request
 *  lacks what the scope needs (no session id, no cwd). */
export function scopeValueOf(scope: RuleScope, facts: RequestFacts): string | undefined | null {
  switch (scope) {
    case 'global':
      return undefined;
    case 'session':
      return facts.context.sessionId ?? null;
    case 'project':
      return typeof facts.context.cwd === 'string' && facts.context.cwd ? projectOf(facts.context.cwd) : null;
    default: {
      const never: never = scope;
      return never;
    }
  }
}

export function inScope(rule: Rule, facts: RequestFacts): boolean {
  switch (rule.scope) {
    case 'global':
      return true;
    case 'session':
      return !!facts.context.sessionId && facts.context.sessionId === rule.scopeValue;
    case 'project':
      return typeof facts.context.cwd === 'string' && !!facts.context.cwd && projectOf(facts.context.cwd) === rule.scopeValue;
    default: {
      const never: never = rule.scope;
      return never;
    }
  }
}

/** `**` any characters, `*` any but `/`, `?` one but `/`. */
export function globToRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i += 1) {
    const c = glob[i];
    if (c === '*' && glob[i + 1] === '*') {
      i += 1;
      // `**/` is zero or more whole folders: it keeps the `/` boundary.
      if (glob[i + 1] === '/') {
        out += '(?:.*/)?';
        i += 1;
      } else out += '.*';
    } else if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else out += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${out}$`);
}

function filePathOf(facts: RequestFacts): string | undefined {
  const key = FILE_TOOLS[facts.toolName];
  const value = key ? facts.input[key] : undefined;
  if (typeof value !== 'string' || !value) return undefined;
  if (isAbsolute(value)) return resolve(value);
  return typeof facts.context.cwd === 'string' ? resolve(facts.context.cwd, value) : undefined;
}

/** Does the rule decide this request? */
export function ruleCovers(rule: Rule, facts: RequestFacts): boolean {
  if (rule.toolName !== facts.toolName || !inScope(rule, facts)) return false;
  switch (rule.kind) {
    case 'bash-prefix': {
      const command = facts.input.command;
      if (typeof command !== 'string') return false;
      if (rule.decision === 'allow') return commandCoveredBy(command, rule.pattern);
      // A deny rule: any segment that matches is enough.
      return anySegmentStartsWith(command, rule.pattern);
    }
    case 'path-glob': {
      const path = filePathOf(facts);
      return !!path && globToRegExp(rule.pattern).test(path);
    }
    case 'exact-input':
      return canonicalJson(facts.input) === rule.pattern;
    default: {
      const never: never = rule.kind;
      return never;
    }
  }
}

/** The patterns an "always" decision on this request remembers: for Bash, each distinct
 *  segment of the command (so `a && b` remembers `a` and `b`); for file tools the path. */
export function patternsFor(facts: RequestFacts): string[] {
  switch (kindOf(facts.toolName)) {
    case 'bash-prefix': {
      const command = facts.input.command;
      if (typeof command !== 'string') return [];
      const split = splitCommand(command);
      if (!split.ok) return [];
      const patterns = split.segments.filter((segment) => !segment.unsafeRedirect && segment.words.length).map((segment) => segment.words.map(quoteWord).join(' '));
      return [...new Set(patterns)];
    }
    case 'path-glob': {
      const path = filePathOf(facts);
      return path ? [path.replace(/[*?]/g, '?')] : [];
    }
    case 'exact-input':
      return [canonicalJson(facts.input)];
  }
}

function quoteWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
