/**
 * What bash will run for a command the fail-closed reader read (the differential suite's
 * oracle for "the reader read it right"). It expands plain variables with the known case
 * variables (word splitting on space, tab and newline; a value with glob characters, or
 * a variable a command may have changed, is not predicted past that word), and follows
 * `&&` / `||` with the stubs' exit statuses. Each run is `must` (bash certainly ran it)
 * or not (it may have: after a builtin, a redirection that may fail, an unknown status).
 */
import { isAssignment, type AndOrList, type Pipeline, type SimpleCommand, type Word } from '../bashReader.ts';

export type Predicted = {
  argv: string[];
  /** Words from here on are not predicted (undefined: all are). */
  openFrom?: number | undefined;
  must: boolean;
  /** A builtin that may run anything (`eval`, `trap`, `test -v 'a[$(…)]'`, …): any run matches. */
  anything?: boolean;
};

/** Bash 5.2's builtins (`compgen -b`), less the ones the sandbox disables. */
const BUILTINS = new Set(
  '. : [ alias bg bind break builtin caller cd command compgen complete compopt continue declare dirs disown enable eval exec exit export fc fg getopts hash help history jobs kill let local logout mapfile popd printf pushd pwd read readarray readonly return set shift shopt source suspend test times trap type typeset ulimit umask unalias unset wait'.split(
    ' ',
  ),
);

type Expanded = { words: string[]; open: boolean };

export function predictRuns(lists: readonly AndOrList[], variables: Record<string, string>, stubs: ReadonlySet<string>): Predicted[] {
  const out: Predicted[] = [];
  /** Once a command may have changed variables, no later expansion is predicted. */
  let variablesKnown = true;
  /** Once a builtin ran, it may have ended the shell (`exec`, `exit`): nothing later is certain. */
  let certain = true;

  const expand = (word: Word): Expanded => {
    const fields: string[] = [];
    let current = '';
    let hasCurrent = false;
    for (const part of word.parts) {
      if (part.kind === 'text') {
        current += part.text;
        hasCurrent = hasCurrent || part.quoted || part.text.length > 0;
        continue;
      }
      const value = variables[part.name];
      if (!variablesKnown || (value === undefined && part.name !== 'U')) return { words: [], open: true };
      const text = value ?? '';
      if (part.quoted) {
        current += text;
        hasCurrent = true;
        continue;
      }
      if (/[*?[]/.test(text)) return { words: [], open: true };
      const pieces = text.split(/[ \t\n]+/);
      const startsBlank = /^[ \t\n]/.test(text);
      const endsBlank = /[ \t\n]$/.test(text);
      const nonEmpty = pieces.filter((piece) => piece.length > 0);
      if (nonEmpty.length === 0) {
        if (startsBlank || endsBlank) {
          if (hasCurrent) fields.push(current);
          current = '';
          hasCurrent = false;
        }
        continue;
      }
      nonEmpty.forEach((piece, index) => {
        if (index === 0 && !startsBlank) {
          current += piece;
          hasCurrent = true;
        } else {
          if (hasCurrent) fields.push(current);
          current = piece;
          hasCurrent = true;
        }
      });
      if (endsBlank) {
        fields.push(current);
        current = '';
        hasCurrent = false;
      }
    }
    if (hasCurrent) fields.push(current);
    return { words: fields, open: false };
  };

  /** Predicts one simple command; returns its exit status, or undefined when unknown. */
  const command = (simple: SimpleCommand, must: boolean): number | undefined => {
    let index = 0;
    while (index < simple.words.length && isAssignment(simple.words[index]!)) index += 1;
    const redirectsSure = simple.redirects.every((redirect) => redirect.safe && !(redirect.op.endsWith('&') && /^([3-9]|\d\d+)-?$/.test(redirect.target.text)));
    if (index === simple.words.length) {
      // Assignments only: they change the shell's variables (PATH: where commands are found).
      if (index > 0) variablesKnown = false;
      if (simple.words.some((word) => /^PATH\+?=/.test(word.text))) certain = false;
      return redirectsSure ? 0 : undefined;
    }
    const argv: string[] = [];
    let openFrom: number | undefined;
    for (const word of simple.words.slice(index)) {
      const expanded = expand(word);
      if (expanded.open) {
        openFrom = argv.length;
        break;
      }
      argv.push(...expanded.words);
    }
    if (openFrom === 0 || (openFrom === undefined && argv.length === 0)) {
      if (openFrom === 0) out.push({ argv: [], openFrom: 0, must: false });
      return undefined;
    }
    const [name] = argv;
    if (name === undefined) return undefined; // not reached: argv has a word (checked above)
    const sure = must && redirectsSure && certain;
    if (BUILTINS.has(name) || name.includes('/')) {
      variablesKnown = false;
      certain = false;
      out.push({ argv, openFrom, must: false, anything: true });
      return undefined;
    }
    // `PATH=… cmd` looks the command up elsewhere.
    const pathChanged = simple.words.slice(0, index).some((word) => /^PATH\+?=/.test(word.text));
    if (pathChanged) {
      out.push({ argv, openFrom, must: false });
      return undefined;
    }
    if (!stubs.has(name)) return redirectsSure ? 127 : undefined;
    out.push({ argv, openFrom, must: sure });
    if (!redirectsSure) return undefined;
    return name === 'false' ? 1 : 0;
  };

  const pipeline = (stages: Pipeline, must: boolean): number | undefined => {
    let status: number | undefined;
    // Stages of a pipeline run in subshells: they cannot change our variables.
    const before = variablesKnown;
    stages.forEach((stage, index) => {
      status = command(stage, must);
      if (stages.length > 1 && index < stages.length - 1) variablesKnown = before && variablesKnown;
    });
    if (stages.length > 1) variablesKnown = before && variablesKnown;
    return status;
  };

  for (const list of lists) {
    let status = pipeline(list.first, true);
    let known = status !== undefined;
    let definitelyRan = true;
    for (const link of list.rest) {
      const runs = known ? (link.op === '&&' ? status === 0 : status !== 0) : undefined;
      if (runs === false) continue;
      const result = pipeline(link.pipeline, runs === true && definitelyRan);
      if (runs === undefined) {
        definitelyRan = false;
        known = false;
      } else {
        status = result;
        known = result !== undefined;
      }
    }
  }
  return out;
}

/** Does what bash ran match the prediction? Each run must be predicted (exactly, or by
 *  its predicted first words when the rest is open), and each `must` run must have run. */
export function compareRuns(predicted: readonly Predicted[], runs: readonly string[][], timedOut: boolean): string | undefined {
  if (predicted.some((p) => p.anything)) {
    // Only the certain runs are checked: a builtin may have run anything.
    const missing = predicted.filter((p) => p.must && !runs.some((run) => fits(p, run)));
    return missing.length && !timedOut ? `bash did not run ${JSON.stringify(missing.map((p) => p.argv))}, which the reader said it would` : undefined;
  }
  // Each run needs a prediction of its own (a maximum bipartite matching, since a run may
  // fit an exact and an open prediction alike), and each certain prediction some run.
  const owner = new Array<number>(predicted.length).fill(-1);
  const assign = (run: number, seen: boolean[]): boolean => {
    for (let p = 0; p < predicted.length; p += 1) {
      if (seen[p] || !fits(predicted[p]!, runs[run]!)) continue;
      seen[p] = true;
      if (owner[p]! < 0 || assign(owner[p]!, seen)) {
        owner[p] = run;
        return true;
      }
    }
    return false;
  };
  const unmatched = runs.filter((_, run) => !assign(run, new Array<boolean>(predicted.length).fill(false)));
  if (unmatched.length) return `bash ran ${JSON.stringify(unmatched)}, which the reader did not predict (${JSON.stringify(predicted)})`;
  const missing = predicted.filter((p) => p.must && !runs.some((run) => fits(p, run)));
  if (missing.length && !timedOut) return `bash did not run ${JSON.stringify(missing.map((p) => p.argv))}, which the reader said it would`;
  return undefined;
}

const fits = (p: Predicted, run: readonly string[]) =>
  p.openFrom === undefined ? sameWords(p.argv, run) : run.length >= p.openFrom && sameWords(p.argv.slice(0, p.openFrom), run.slice(0, p.openFrom));

const sameWords = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((word, index) => word === b[index]);
