/**
 * Which file paths a path rule covers, on the paths the kernel would really open
 * (docs/rules.md, "Path rules"). A path is covered only if it is absolute, at most
 * MAX_PATH_BYTES, and its REAL path (symlinks resolved; of the nearest existing parent
 * when the file is new) matches the rule's glob, with the file system's case rule.
 * Repository and agent configuration (PROTECTED_DIRS, PROTECTED_FILES) is never covered
 * unless the glob names it. The glob matcher simulates its automaton over the path once:
 * linear in the path, no backtracking.
 */
import { lstatSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { hasHiddenCharacters } from '../../protocol/index.ts';

/** Longer paths are "not covered" (a human sees them): the cost of matching is bounded. */
export const MAX_PATH_BYTES = 4096;

/** Folders whose content configures the repository, an editor or an agent: writing there
 *  runs code later (git hooks, `core.fsmonitor`, agent settings, tasks). */
export const PROTECTED_DIRS = [
  '.git',
  '.hg',
  '.svn',
  '.jj',
  '.claude',
  '.vscode',
  '.idea',
  '.husky',
  '.ssh',
  '.gnupg',
  '.direnv',
  '.devcontainer',
  '.cargo',
  '.github',
  // credential helpers and init scripts that the CLI runs on an ordinary command (`kubectl get`, `aws s3 ls`, `docker pull`, `gradle build`)
  '.kube',
  '.aws',
  '.docker',
  '.gradle',
  '.rustup',
] as const;
/** Files that configure a shell, a package manager, git or an agent. */
export const PROTECTED_FILES = [
  '.envrc',
  '.npmrc',
  '.yarnrc',
  '.yarnrc.yml',
  '.pnpmfile.cjs',
  '.gitmodules',
  '.gitconfig',
  '.gitattributes',
  '.mcp.json',
  '.netrc',
  '.bashrc',
  '.bash_profile',
  '.bash_login',
  '.bash_logout',
  '.profile',
  '.zshrc',
  '.zshenv',
  '.zprofile',
  '.zlogin',
  '.zlogout',
  '.kshrc',
  '.cshrc',
  '.tcshrc',
  '.inputrc',
  '.curlrc',
  '.wgetrc',
  '.vimrc',
  '.exrc',
  '.pypirc',
  '.pre-commit-config.yaml',
  '.gitlab-ci.yml',
  // tool versions and hooks run on entering the folder (mise), preload scripts (bun), debugger and shell-escape rc files
  'mise.toml',
  '.mise.toml',
  'mise.local.toml',
  '.mise.local.toml',
  'bunfig.toml',
  '.bunfig.toml',
  '.gdbinit',
  '.lldbinit',
  '.tmux.conf',
  '.screenrc',
  '.psqlrc',
  '.sqliterc',
  '.irbrc',
  '.pryrc',
  '.nanorc',
  '.condarc',
  '.config/fish',
  '.config/git',
  '.config/gh',
  '.config/pip',
  '.config/mise',
] as const;

const PROTECTED = new Set<string>([...PROTECTED_DIRS, ...PROTECTED_FILES.filter((f) => !f.includes('/'))].map((s) => s.toLowerCase()));
/** Multi-component protected entries (`.config/fish`): protected as a pair of components. */
const PROTECTED_PAIRS = PROTECTED_FILES.filter((f) => f.includes('/')).map((f) => f.toLowerCase().split('/') as [string, string]);

/** Paths whose meaning depends on the process that opens them (and device files). */
const PER_PROCESS = /^\/(proc|dev)(\/|$)/;

export type RealPath = { ok: true; path: string } | { ok: false; reason: string };

/** The real path of `path` (absolute): realpath of the file, else of its nearest existing
 *  parent with the missing components appended. Fails closed: a relative path, `..` or
 *  `.` among the missing components, a dangling symlink, a hard-linked file. */
export function realPathOf(path: string): RealPath {
  if (typeof path !== 'string' || !path) return { ok: false, reason: 'no path' };
  if (path.includes('\0')) return { ok: false, reason: 'a NUL byte in the path' };
  // a name that reads as another (bidi, zero-width, look-alike space): the card shows escapes, a rule never covers it
  if (hasHiddenCharacters(path)) return { ok: false, reason: 'a hidden or control character in the path' };
  if (Buffer.byteLength(path) > MAX_PATH_BYTES) return { ok: false, reason: `a path over ${MAX_PATH_BYTES} bytes` };
  if (!isAbsolute(path)) return { ok: false, reason: 'a relative path' };
  // `/proc/self/cwd/…`, `/proc/<pid>/root/…`, `/dev/fd/N` name another file in each process:
  // resolved here they are the server's, while the agent's tool opens its own.
  if (PER_PROCESS.test(resolve(path))) return { ok: false, reason: 'a /proc or /dev path (its meaning depends on the process that opens it)' };
  const missing: string[] = [];
  let current = path;
  for (;;) {
    let real: string | undefined;
    try {
      real = realpathSync.native(current);
    } catch {
      real = undefined;
    }
    if (real !== undefined) {
      if (missing.length === 0) {
        // An existing file with more than one name is also another file: not ours to judge.
        try {
          const stat = statSync(real);
          if (stat.isFile() && stat.nlink > 1) return { ok: false, reason: 'a hard-linked file' };
        } catch {
          return { ok: false, reason: 'unreadable' };
        }
      }
      const full = missing.length ? join(real, ...missing.reverse()) : real;
      if (PER_PROCESS.test(full)) return { ok: false, reason: 'a path that resolves into /proc or /dev (its meaning depends on the process that opens it)' };
      return Buffer.byteLength(full) > MAX_PATH_BYTES ? { ok: false, reason: `a path over ${MAX_PATH_BYTES} bytes` } : { ok: true, path: full };
    }
    // realpath failed: the name must not exist at all (a dangling symlink would be
    // followed by the write, to wherever it points).
    try {
      lstatSync(current);
      return { ok: false, reason: 'a dangling symlink or unreadable entry' };
    } catch {
      // does not exist: look at the parent
    }
    const name = basename(current);
    const parent = dirname(current);
    if (parent === current) return { ok: false, reason: 'no existing parent' };
    // `..` after a missing folder is resolved by the kernel against a folder that does not
    // exist yet; `.`/empty come from odd spellings. Refuse rather than guess.
    if (name === '..' || name === '.' || name === '') return { ok: false, reason: 'a `.` or `..` component' };
    missing.push(name);
    current = parent;
  }
}

/** Is the file system holding `realDir` case-insensitive? Detected by looking up the
 *  last component with a letter under its swapped case: the same inode means the name is
 *  folded. Without such a component, the platform's default (darwin, win32: yes). */
export function detectCaseInsensitive(realDir: string): boolean {
  let dir = realDir;
  for (;;) {
    const name = basename(dir);
    const swapped = [...name].map((c) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase())).join('');
    if (swapped !== name) {
      try {
        const a = statSync(dir);
        try {
          const b = statSync(join(dirname(dir), swapped));
          return a.ino === b.ino && a.dev === b.dev;
        } catch {
          return false;
        }
      } catch {
        // fall through to the parent
      }
    }
    const parent = dirname(dir);
    if (parent === dir) return process.platform === 'darwin' || process.platform === 'win32';
    dir = parent;
  }
}

const caseCache = new Map<string, boolean>();
/** Per folder, cached: the answer does not change while the server runs (bounded cache). */
function cachedCaseInsensitive(realDir: string): boolean {
  const known = caseCache.get(realDir);
  if (known !== undefined) return known;
  const value = detectCaseInsensitive(realDir);
  if (caseCache.size > 1000) caseCache.clear();
  caseCache.set(realDir, value);
  return value;
}

type Token = { t: 'lit'; c: string } | { t: 'one' } | { t: 'star' } | { t: 'any' } | { t: 'dirs' };

function tokenize(glob: string): Token[] {
  const tokens: Token[] = [];
  // `glob[i]` is undefined exactly when i reaches the end: every character is read.
  for (let i = 0, c = glob[0]; c !== undefined; i += 1, c = glob[i]) {
    const escaped = c === '\\' ? glob[i + 1] : undefined;
    if (escaped !== undefined) {
      i += 1;
      tokens.push({ t: 'lit', c: escaped });
    } else if (c === '*' && glob[i + 1] === '*') {
      while (glob[i + 1] === '*') i += 1;
      // `**/` is zero or more whole folders: it keeps the `/` boundary.
      if (glob[i + 1] === '/') {
        i += 1;
        tokens.push({ t: 'dirs' });
      } else tokens.push({ t: 'any' });
    } else if (c === '*') tokens.push({ t: 'star' });
    else if (c === '?') tokens.push({ t: 'one' });
    else tokens.push({ t: 'lit', c });
  }
  return tokens;
}

/**
 * `**` any characters, `**\/` zero or more whole folders, `*` any but `/`, `?` one but
 * `/`, `\x` a literal x. A set-of-states simulation: each path character advances every
 * live state once, so `steps` (state visits) is at most 4 x (glob length + 1) x (path
 * length + 1): a glob has at most 2 x length + 1 states, each visited at most twice a character.
 */
export function globMatch(glob: string, path: string): { matched: boolean; steps: number } {
  const tokens = tokenize(glob);
  // A `dirs` token at i has an inner state (inside a folder run) numbered tokens.length + 1 + i.
  const inner = (i: number) => tokens.length + 1 + i;
  let steps = 0;
  const closure = (states: Set<number>) => {
    const stack = [...states];
    while (stack.length) {
      const s = stack.pop()!;
      steps += 1;
      const tok = tokens[s];
      if (tok === undefined) continue; // the end state, or inside a `**/` run: no free moves
      if ((tok.t === 'star' || tok.t === 'any' || tok.t === 'dirs') && !states.has(s + 1)) {
        states.add(s + 1);
        stack.push(s + 1);
      }
    }
    return states;
  };
  let current = closure(new Set([0]));
  for (const c of path) {
    const next = new Set<number>();
    for (const s of current) {
      steps += 1;
      if (s > tokens.length) {
        // inside a `**/` run: any character stays, a `/` may also end the run
        const i = s - tokens.length - 1;
        next.add(s);
        if (c === '/') next.add(i + 1);
        continue;
      }
      const tok = tokens[s];
      if (tok === undefined) continue; // the end state: no character leaves it
      switch (tok.t) {
        case 'lit':
          if (tok.c === c) next.add(s + 1);
          break;
        case 'one':
          if (c !== '/') next.add(s + 1);
          break;
        case 'star':
          if (c !== '/') next.add(s);
          break;
        case 'any':
          next.add(s);
          break;
        case 'dirs':
          next.add(inner(s));
          if (c === '/') next.add(s + 1);
          break;
        default: {
          const never: never = tok;
          return never;
        }
      }
    }
    if (next.size === 0) return { matched: false, steps };
    current = closure(next);
  }
  return { matched: current.has(tokens.length), steps };
}

/** The components of the glob written literally (no wildcard): the names it names. */
function namedComponents(glob: string): Set<string> {
  return new Set(
    glob
      .split('/')
      .filter((part) => !/[*?]/.test(part.replace(/\\./g, '')))
      .map((part) => part.replace(/\\(.)/g, '$1').toLowerCase()),
  );
}

/** The protected components of a real path (compared without case, everywhere: on a
 *  case-insensitive file system `.GIT` is `.git`, and refusing it elsewhere costs nothing). */
export function protectedComponents(realPath: string): string[] {
  const parts = realPath.split(sep).map((p) => p.toLowerCase());
  const found = parts.filter((p) => PROTECTED.has(p));
  for (const [a, b] of PROTECTED_PAIRS) for (let i = 0; i + 1 < parts.length; i += 1) if (parts[i] === a && parts[i + 1] === b) found.push(b);
  return found;
}

export type PathOptions = { caseInsensitive?: (realDir: string) => boolean };

/** The glob with its literal leading folders replaced by their real path, so that a rule
 *  written for `/tmp/p/**` still matches where `/tmp` is a symlink (macOS). Applied ONCE,
 *  when a rule is made (ruleEngine.ts): resolved at each match, a folder of the rule later
 *  swapped for a symlink (`src -> /`, which a `git checkout` can make) would move the rule. */
export function realGlob(glob: string): string {
  const parts = glob.split('/');
  const firstWild = parts.findIndex((part) => /[*?\\]/.test(part));
  const literal = firstWild < 0 ? parts.length - 1 : firstWild;
  for (let k = literal; k >= 1; k -= 1) {
    const head = parts.slice(0, k).join('/') || '/';
    try {
      const real = realpathSync.native(head);
      return [real === '/' ? '' : real, ...parts.slice(k)].join('/');
    } catch {
      // try a shorter head
    }
  }
  return glob;
}

/** Does the path glob `glob` (absolute) cover the file at `path`? */
export function pathCoveredBy(glob: string, path: string, options: PathOptions = {}): boolean {
  if (!glob.startsWith('/') || Buffer.byteLength(glob) > MAX_PATH_BYTES) return false;
  const real = realPathOf(path);
  if (!real.ok) return false;
  const named = namedComponents(glob);
  if (protectedComponents(real.path).some((name) => !named.has(name))) return false;
  // The glob as stored (real when it was made), never resolved again here: see realGlob.
  const folded = (options.caseInsensitive ?? cachedCaseInsensitive)(dirname(real.path));
  return folded ? globMatch(glob.toLowerCase(), real.path.toLowerCase()).matched : globMatch(glob, real.path).matched;
}

/** Escapes glob characters so the text matches only itself. */
export function escapeGlob(text: string): string {
  return text.replace(/[\\*?]/g, '\\$&');
}
