/**
 * What a remembered rule is, which requests it covers, and which rules a decision on a
 * request may make (docs/rules.md). A Bash rule is the exact command text (the default)
 * or a prefix a human chose, matched at word boundaries on EVERY segment
 * (bashSegments.ts); an allow rule never covers what rememberPolicy.ts refuses. A file
 * tool rule is an absolute glob on the real path (pathRules.ts); any other tool's rule is
 * its exact input. Scope: `session` (the request's sessionId), `project` (the git root of
 * the request's cwd, else the cwd), `global`.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { canonicalJson, type Decision, RULE_KINDS, type RuleKind, type RuleScope } from '../../protocol/index.ts';
import { anySegmentStartsWith, commandCoveredBy, prefixWords, splitCommand } from './bashSegments.ts';
import { escapeGlob, globMatch, MAX_PATH_BYTES, pathCoveredBy, protectedComponents, realPathOf } from './pathRules.ts';
import { commandPolicy, prefixChoices } from './rememberPolicy.ts';

export { RULE_KINDS, type RuleKind };
/** Longest pattern a rule keeps (a longer command or input is a human's each time). */
export const MAX_PATTERN_LENGTH = 4096;

export type Rule = {
  id: string;
  toolName: string;
  /** bash-exact: the whole command text; bash-prefix: a command prefix (words); path-glob:
   *  an absolute glob; exact-input: canonical JSON of the input. */
  pattern: string;
  kind: RuleKind;
  decision: Decision;
  scope: RuleScope;
  /** The session id (scope session) or project folder (scope project). */
  scopeValue?: string;
  createdAt: number;
  createdBy: string;
  /** The request whose decision created it. */
  sourceRequestId?: string;
};

export type RequestFacts = {
  toolName: string;
  input: Record<string, unknown>;
  context: { sessionId?: string | undefined; cwd?: string | undefined } & Record<string, unknown>;
};

export const FILE_TOOLS: Record<string, string> = {
  Read: 'file_path',
  Write: 'file_path',
  Edit: 'file_path',
  MultiEdit: 'file_path',
  NotebookEdit: 'notebook_path',
};

/** The input fields an allow rule of these tools is about, or may ignore (Claude Code's
 *  tool schemas). Any other field, or `dangerouslyDisableSandbox: true` (the command leaves
 *  the sandbox the human allowed it in), is the human's: a field added later may change
 *  what runs, so an unknown one is never covered (fail closed). */
const KNOWN_FIELDS: Record<string, readonly string[]> = {
  Bash: ['command', 'description', 'timeout', 'run_in_background', 'dangerouslyDisableSandbox'],
  Read: ['file_path', 'offset', 'limit', 'pages', 'allow_large'],
  Write: ['file_path', 'content'],
  Edit: ['file_path', 'old_string', 'new_string', 'replace_all'],
  MultiEdit: ['file_path', 'edits'],
  NotebookEdit: ['notebook_path', 'cell_id', 'new_source', 'cell_type', 'edit_mode'],
};

/** Why an allow rule may not cover this input beyond its command or path, or undefined. */
export function unknownField(facts: Pick<RequestFacts, 'toolName' | 'input'>): string | undefined {
  const known = KNOWN_FIELDS[facts.toolName];
  if (!known) return undefined;
  for (const [key, value] of Object.entries(facts.input)) {
    if (!known.includes(key)) return `the input has a field "${key.slice(0, 100)}" a rule is not about`;
    if (key === 'dangerouslyDisableSandbox' && value !== false) return 'the input asks to run outside the sandbox (dangerouslyDisableSandbox)';
  }
  return undefined;
}

/** The default kind of a tool's rules (a Bash prefix is chosen, never the default). */
export function kindOf(toolName: string): RuleKind {
  if (toolName === 'Bash') return 'bash-exact';
  if (FILE_TOOLS[toolName]) return 'path-glob';
  return 'exact-input';
}

/**
 * The project of `cwd`: the repository it is in, keyed by git's common directory, so
 * every worktree of one repository is one project (docs/rules.md, "Scopes"). Found by
 * walking up to the first `.git`: a folder (the main worktree) is that folder; a file
 * (`gitdir: …`, a linked worktree) counts only when git's own back-pointer agrees (the
 * worktree's `gitdir` file names this very `.git`, as `git worktree` writes it) and its
 * `commondir` leads to the repository's `.git`: then the project is the main worktree's
 * folder. Anything else (a submodule, a forged or stale `.git` file) is the folder that
 * holds it, never another repository's project. No `.git` at all: `cwd` itself.
 */
export function projectOf(cwd: string): string {
  let dir = resolve(cwd);
  for (;;) {
    const dotGit = join(dir, '.git');
    if (existsSync(dotGit)) return linkedWorktreeProject(dotGit) ?? dir;
    const parent = dirname(dir);
    if (parent === dir) return resolve(cwd);
    dir = parent;
  }
}

/** The main worktree's folder of a linked worktree's `.git` file, or undefined. */
function linkedWorktreeProject(dotGit: string): string | undefined {
  try {
    if (!statSync(dotGit).isFile()) return undefined;
    const pointer = /^gitdir: (.+)$/m.exec(readFileSync(dotGit, 'utf8').slice(0, 4096))?.[1]?.trim();
    if (!pointer) return undefined;
    const gitDir = resolve(dirname(dotGit), pointer);
    const back = readFileSync(join(gitDir, 'gitdir'), 'utf8').slice(0, 4096).trim();
    if (resolve(gitDir, back) !== dotGit) return undefined;
    const common = resolve(gitDir, readFileSync(join(gitDir, 'commondir'), 'utf8').slice(0, 4096).trim());
    if (basename(common) !== '.git' || !statSync(common).isDirectory()) return undefined;
    return dirname(common);
  } catch {
    return undefined;
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

function filePathOf(facts: RequestFacts): string | undefined {
  const key = FILE_TOOLS[facts.toolName];
  const value = key ? facts.input[key] : undefined;
  return typeof value === 'string' && value ? value : undefined;
}

/** A deny rule errs on the side of matching: the real path or the path as written
 *  (`~` expanded, resolved against the cwd), in either case, protected names included. */
function pathDenied(glob: string, facts: RequestFacts): boolean {
  const raw = filePathOf(facts);
  if (!raw || Buffer.byteLength(raw) > MAX_PATH_BYTES) return false;
  const expanded = raw === '~' || raw.startsWith('~/') ? join(homedir(), raw.slice(1)) : raw;
  const lexical = isAbsolute(expanded) ? resolve(expanded) : typeof facts.context.cwd === 'string' ? resolve(facts.context.cwd, expanded) : undefined;
  const real = lexical ? realPathOf(lexical) : undefined;
  const candidates = [lexical, real?.ok ? real.path : undefined].filter((p): p is string => !!p);
  return candidates.some((p) => globMatch(glob, p).matched || globMatch(glob.toLowerCase(), p.toLowerCase()).matched);
}

/** A deny prefix errs on the side of matching: in any simple command, the deny's command
 *  word (by basename) at any position (after `sudo -u root`, `env`, `FOO=1`, `git`'s own
 *  `--no-pager` …), then the deny's other words in order, others between them allowed
 *  (`git push --force` matches `git push origin --force`). Flags spelt otherwise (`-f`
 *  for `--force`) are not known to be the same: docs/rules.md says what deny rules cannot promise. */
function denyPrefixMatches(command: string, pattern: string): boolean {
  if (anySegmentStartsWith(command, pattern)) return true;
  const deny = prefixWords(pattern);
  const split = splitCommand(command);
  const first = deny?.[0];
  if (!deny || first === undefined || !split.ok) return false;
  const name = basename(first).toLowerCase();
  const rest = deny.slice(1);
  return split.segments.some(({ words }) =>
    words.some((word, j) => {
      if (basename(word).toLowerCase() !== name) return false;
      let k = 0;
      for (let m = j + 1; m < words.length && k < rest.length; m += 1) if (words[m] === rest[k]) k += 1;
      return k === rest.length;
    }),
  );
}

/** An exact deny rule: the same text, or the same words in the same simple commands
 *  (`rm  -rf 'build'` is `rm -rf build`). */
function denyExactMatches(command: string, pattern: string): boolean {
  if (command === pattern) return true;
  const a = splitCommand(command);
  const b = splitCommand(pattern);
  return a.ok && b.ok && a.segments.length > 0 && JSON.stringify(a.segments.map((x) => x.words)) === JSON.stringify(b.segments.map((x) => x.words));
}

/** Does the rule decide this request? An allow rule never covers a command the remember
 *  policy refuses (rememberPolicy.ts), whatever its pattern. */
export function ruleCovers(rule: Rule, facts: RequestFacts): boolean {
  if (rule.toolName !== facts.toolName || !inScope(rule, facts)) return false;
  if (rule.decision === 'allow' && unknownField(facts)) return false;
  switch (rule.kind) {
    case 'bash-exact': {
      const command = facts.input.command;
      if (typeof command !== 'string') return false;
      if (rule.decision === 'deny') return denyExactMatches(command, rule.pattern);
      return command === rule.pattern && commandPolicy(command).ok;
    }
    case 'bash-prefix': {
      const command = facts.input.command;
      if (typeof command !== 'string') return false;
      // A deny rule: any segment that matches is enough.
      if (rule.decision === 'deny') return denyPrefixMatches(command, rule.pattern);
      return commandPolicy(command).ok && commandCoveredBy(command, rule.pattern);
    }
    case 'path-glob': {
      if (rule.decision === 'deny') return pathDenied(rule.pattern, facts);
      const path = filePathOf(facts);
      return !!path && pathCoveredBy(rule.pattern, path);
    }
    case 'exact-input':
      return canonicalJson(facts.input) === rule.pattern;
    default: {
      const never: never = rule.kind;
      return never;
    }
  }
}

/** A rule the card may offer: its kind and pattern, and a sentence saying what it covers. */
export type RuleChoice = { kind: Rule['kind']; pattern: string; description: string };
/** What "Always allow" on this request would make: the exact rule (the default), the
 *  prefixes a human may choose, or why no rule can be made. */
export type Proposal = { exact: RuleChoice | null; prefixes: RuleChoice[]; refused?: string };

const refused = (reason: string): Proposal => ({ exact: null, prefixes: [], refused: reason });

export function quoteWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The rule choices for a decision on this request (for an allow, within the policy). */
export function proposeRule(facts: RequestFacts, decision: Decision = 'allow'): Proposal {
  const field = decision === 'allow' ? unknownField(facts) : undefined;
  if (field) return refused(field);
  switch (kindOf(facts.toolName)) {
    case 'bash-exact':
    case 'bash-prefix': {
      const command = facts.input.command;
      if (typeof command !== 'string' || !command) return refused('the request has no command');
      if (command.length > MAX_PATTERN_LENGTH) return refused(`the command is longer than ${MAX_PATTERN_LENGTH} characters`);
      const policy = commandPolicy(command);
      if (!policy.ok && decision === 'allow') return refused(policy.reason);
      const exact: RuleChoice = { kind: 'bash-exact', pattern: command, description: 'exactly this command, nothing added' };
      const segments = policy.ok ? policy.segments : [];
      const prefixes = prefixChoices(segments, decision)
        .map((words) => ({ words, pattern: words.map(quoteWord).join(' ') }))
        // a prefix the rule matcher would read back differently is not offered
        .filter(({ words, pattern }) => JSON.stringify(prefixWords(pattern)) === JSON.stringify(words))
        .map(
          ({ pattern }): RuleChoice => ({
            kind: 'bash-prefix',
            pattern,
            description: `commands starting with \`${pattern}\` (any further arguments, within the policy)`,
          }),
        );
      return { exact, prefixes };
    }
    case 'path-glob': {
      const raw = filePathOf(facts);
      if (!raw) return refused('the request has no file path');
      const real = realPathOf(raw);
      if (!real.ok) return refused(`the path cannot be remembered: ${real.reason}`);
      const guarded = protectedComponents(real.path);
      if (guarded.length && decision === 'allow')
        return refused(`${guarded[0]} is repository, shell or agent configuration: a rule must name it, and "Always allow" never does`);
      const exact: RuleChoice = { kind: 'path-glob', pattern: escapeGlob(real.path), description: `exactly the file ${real.path}` };
      const folder = dirname(real.path);
      const prefixes: RuleChoice[] =
        folder === '/' || folder === homedir() || protectedComponents(folder).length
          ? []
          : [{ kind: 'path-glob', pattern: `${escapeGlob(folder)}/**`, description: `any file under ${folder}/ (its configuration files excepted)` }];
      return { exact, prefixes };
    }
    case 'exact-input': {
      const pattern = canonicalJson(facts.input);
      if (pattern.length > MAX_PATTERN_LENGTH) return refused(`the input is longer than ${MAX_PATTERN_LENGTH} characters of JSON`);
      return { exact: { kind: 'exact-input', pattern, description: `exactly this ${facts.toolName} input` }, prefixes: [] };
    }
  }
}
