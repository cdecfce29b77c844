/**
 * Normalised views of a simple command's words, for deny rules (docs/rules.md "What deny
 * rules cannot promise"). `sudo -u root env A=1 /bin/rm -rf x` is seen as itself, as
 * `env A=1 /bin/rm -rf x`, and as `rm -rf x`; `bash -c 'rm x'` and `eval rm x` also yield
 * the commands of their string. A deny rule matches if ANY view starts with its words.
 * Best effort: a wrapper it does not know, a variable, an alias or a script hides what
 * runs; the allow side does not rely on this (it fails closed instead).
 */
import { lenientSegments } from './bashLenient.ts';

const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=/;

/** Reserved words and other words that only introduce the command that follows. */
const KEYWORDS = new Set(['!', 'if', 'then', 'else', 'elif', 'while', 'until', 'do', '{', '[[', '((', 'coproc', 'function', 'noglob']);

type Wrapper = {
  /** Options that take a separate argument (`-u USER`). Other `-x` words are flags. */
  withArgument?: readonly string[];
  /** Positional words after the options before the command (`timeout DURATION`). */
  positional?: number;
  /** Assignments (`NAME=value`) may follow the options. */
  assignments?: boolean;
};

/** Commands that run the rest of their words as a command. */
const WRAPPERS: Record<string, Wrapper> = {
  exec: { withArgument: ['-a'] },
  command: {},
  builtin: {},
  nohup: {},
  time: { withArgument: ['-f', '-o', '--format', '--output'] },
  env: { withArgument: ['-u', '-C', '-S', '--unset', '--chdir', '--split-string'], assignments: true },
  sudo: {
    withArgument: [
      '-u',
      '-g',
      '-h',
      '-p',
      '-C',
      '-D',
      '-r',
      '-t',
      '-T',
      '-U',
      '-R',
      '--user',
      '--group',
      '--host',
      '--prompt',
      '--close-from',
      '--chdir',
      '--role',
      '--type',
      '--command-timeout',
      '--other-user',
      '--chroot',
    ],
    assignments: true,
  },
  doas: { withArgument: ['-u', '-C'] },
  nice: { withArgument: ['-n', '--adjustment'] },
  ionice: { withArgument: ['-c', '-n', '--class', '--classdata'] },
  timeout: { withArgument: ['-k', '-s', '--kill-after', '--signal'], positional: 1 },
  stdbuf: { withArgument: ['-i', '-o', '-e', '--input', '--output', '--error'] },
  setsid: {},
  chrt: { positional: 1 },
  taskset: { positional: 1 },
  chroot: { withArgument: ['--userspec', '--groups'], positional: 1 },
  flock: { withArgument: ['-w', '-E', '--timeout', '--conflict-exit-code'], positional: 1 },
  xargs: {
    withArgument: [
      '-a',
      '-d',
      '-E',
      '-e',
      '-I',
      '-L',
      '-l',
      '-n',
      '-P',
      '-s',
      '--arg-file',
      '--delimiter',
      '--eof',
      '--replace',
      '--max-lines',
      '--max-args',
      '--max-procs',
      '--max-chars',
      '--process-slot-var',
    ],
  },
  busybox: {},
  unbuffer: {},
  strace: { withArgument: ['-e', '-o', '-p', '-s', '-u', '-E'] },
  ltrace: { withArgument: ['-e', '-o', '-p', '-s', '-u'] },
  watch: { withArgument: ['-n', '-d', '--interval', '--differences'] },
};

/** Shells and other runners whose `-c STRING` (or whose words) is itself a command line. */
const SHELLS = new Set(['sh', 'bash', 'dash', 'zsh', 'ksh', 'mksh', 'ash', 'fish', 'su', 'script', 'runuser']);

export const basename = (word: string): string => {
  const slash = word.lastIndexOf('/');
  return slash >= 0 && slash < word.length - 1 ? word.slice(slash + 1) : word;
};

/** The fully stripped words: no leading assignments or wrappers, the command's basename. */
export function normaliseWords(words: readonly string[]): string[] {
  const views = normalisedViews(words, 0);
  const last = views.filter((view) => view.derivedFrom === 0).pop();
  const result = [...(last?.words ?? words)];
  const [head] = result;
  if (head !== undefined) result[0] = basename(head);
  return result;
}

type View = { words: string[]; derivedFrom: number };

/** Every view: the words themselves, each stage of stripping, and the commands of
 *  `sh -c STRING` / `eval …` / `env -S STRING` / `find -exec …` (derivedFrom > 0: nested). */
export function commandViews(words: readonly string[]): string[][] {
  return normalisedViews(words, 0).map((view) => view.words);
}

function normalisedViews(words: readonly string[], depth: number): View[] {
  const views: View[] = [{ words: [...words], derivedFrom: 0 }];
  if (depth > 8) return views;
  let current = [...words];
  for (let guard = 0; guard < 64 && current.length; guard += 1) {
    let i = 0;
    while (ASSIGNMENT.test(current[i] ?? '')) i += 1;
    if (i > 0) {
      current = current.slice(i);
      views.push({ words: current, derivedFrom: 0 });
      continue;
    }
    const [first] = current;
    if (first === undefined) break;
    const head = basename(first);
    const nested = nestedCommands(head, current);
    for (const line of nested)
      for (const segment of lenientSegments(line))
        for (const view of normalisedViews(segment.words, depth + 1)) views.push({ words: view.words, derivedFrom: 1 });
    const wrapper = WRAPPERS[head];
    if (wrapper) {
      current = stripWrapper(current, wrapper);
      views.push({ words: current, derivedFrom: 0 });
      continue;
    }
    if (KEYWORDS.has(first)) {
      current = current.slice(1);
      views.push({ words: current, derivedFrom: 0 });
      continue;
    }
    break;
  }
  return views.filter((view) => view.words.length > 0);
}

function stripWrapper(words: string[], wrapper: Wrapper): string[] {
  let i = 1;
  let positional = wrapper.positional ?? 0;
  for (let word = words[i]; word !== undefined; word = words[i]) {
    if (word === '--') {
      i += 1;
      break;
    }
    if (word.startsWith('-') && word.length > 1) {
      const options = wrapper.withArgument ?? [];
      // `--user root` and `-u root` take the next word; `--user=root`, `-uroot`, `-i` do not.
      i += options.includes(word) ? 2 : 1;
      continue;
    }
    if (wrapper.assignments && ASSIGNMENT.test(word)) {
      i += 1;
      continue;
    }
    if (positional > 0) {
      positional -= 1;
      i += 1;
      continue;
    }
    break;
  }
  return words.slice(i);
}

/** Command lines that a command runs from its own words. */
function nestedCommands(head: string, words: string[]): string[] {
  const lines: string[] = [];
  if (SHELLS.has(head) || head === 'flock' || head === 'watch') {
    for (const [i, word] of words.entries()) {
      const next = words[i + 1];
      if (i > 0 && next !== undefined && (/^-[A-Za-z]*c[A-Za-z]*$/.test(word) || word === '--command')) lines.push(next);
    }
  }
  if (head === 'eval' || head === 'watch') lines.push(words.slice(1).join(' '));
  if (head === 'env') {
    for (const [i, word] of words.entries()) {
      if (i === 0) continue;
      if ((word === '-S' || word === '--split-string') && i + 1 < words.length) lines.push(words.slice(i + 1).join(' '));
      else if (word.startsWith('-S') && word.length > 2) lines.push([word.slice(2), ...words.slice(i + 1)].join(' '));
      else if (word.startsWith('--split-string=')) lines.push([word.slice('--split-string='.length), ...words.slice(i + 1)].join(' '));
    }
  }
  if (head === 'find') {
    for (const [i, word] of words.entries()) {
      if (i === 0 || !['-exec', '-execdir', '-ok', '-okdir'].includes(word)) continue;
      const end = words.findIndex((word, index) => index > i && (word === ';' || word === '+'));
      lines.push(
        words
          .slice(i + 1, end < 0 ? words.length : end)
          .map(quote)
          .join(' '),
      );
    }
  }
  return lines;
}

const quote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;
