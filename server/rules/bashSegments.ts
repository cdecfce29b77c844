/**
 * What a Bash rule sees of a command (SPEC "Bash reading", docs/rules.md). Two readers:
 *
 * - Allow side, fail closed (`splitCommand`, bashReader.ts): a command is split into its
 *   simple commands ("segments") only if it reads, for sure, as literal words, plain
 *   operators, quotes that expand nothing, plain `$NAME` and redirections; anything else
 *   is `ok: false` with a reason, and no allow rule covers it. An allow rule covers a
 *   command only if EVERY segment starts with the rule's words, each of them literal (a
 *   variable never stands in a rule's word), and no segment redirects to a file.
 * - Deny side, best effort (`anySegmentStartsWith`, bashLenient.ts + bashNormalise.ts):
 *   every simple command it can see, also inside substitutions, with assignments and
 *   wrappers (`env`, `sudo`, `exec`, `timeout 5`, …) stripped and the command's basename.
 */
import { lenientSegments } from './bashLenient.ts';
import { basename, commandViews } from './bashNormalise.ts';
import { readCommand, simpleCommands, type ReadResult, type SimpleCommand } from './bashReader.ts';

export { SUBSTITUTION } from './bashLenient.ts';
export { normaliseWords } from './bashNormalise.ts';
export { readCommand } from './bashReader.ts';

export type Segment = {
  words: string[];
  /** A redirection to something other than /dev/null or a file descriptor. */
  unsafeRedirect: boolean;
  /** Per word: bash passes it exactly as written (no variable in it). Absent: all literal. */
  literal?: boolean[];
};

export type SplitResult = { ok: true; segments: Segment[] } | { ok: false; reason: string };

function toSegment(command: SimpleCommand): Segment {
  return {
    words: command.words.map((word) => word.text),
    unsafeRedirect: command.redirects.some((redirect) => !redirect.safe),
    literal: command.words.map((word) => word.literal),
  };
}

/** The segments of a command read by the fail-closed reader. A command made only of
 *  safe redirections (`>/dev/null`) runs nothing and is no segment. */
export function segmentsOf(read: Extract<ReadResult, { ok: true }>): Segment[] {
  return simpleCommands(read.lists)
    .filter((command) => command.words.length > 0 || command.redirects.some((redirect) => !redirect.safe))
    .map(toSegment);
}

/** The fail-closed reader (allow side). */
export function splitCommand(command: string): SplitResult {
  const read = readCommand(command);
  if (!read.ok) return read;
  return { ok: true, segments: segmentsOf(read) };
}

const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*\+?=/;

/** The rule engine asks about one command once per rule: each reader keeps its last
 *  answer, so a long command is read once per request, not once per rule. */
function lastOf<T>(read: (command: string) => T): (command: string) => T {
  let last: { command: string; value: T } | undefined;
  return (command) => {
    if (last?.command !== command) last = { command, value: read(command) };
    return last.value;
  };
}
const splitOnce = lastOf(splitCommand);
const lenientOnce = lastOf(lenientSegments);

/** Words of a rule's prefix: one simple command of literal words that names a command
 *  (not only assignments), read by the fail-closed reader; otherwise undefined. */
export function prefixWords(prefix: string): string[] | undefined {
  const split = splitCommand(prefix);
  if (!split.ok || split.segments.length !== 1) return undefined;
  const [segment] = split.segments;
  if (!segment || segment.unsafeRedirect || segment.words.length === 0) return undefined;
  if (segment.literal && !segment.literal.every(Boolean)) return undefined;
  if (segment.words.every((word) => ASSIGNMENT.test(word))) return undefined;
  return segment.words;
}

/** Does `segment` start with `prefix` at a word boundary, each matched word literal? */
export function segmentMatches(segment: Segment, prefix: readonly string[]): boolean {
  if (segment.unsafeRedirect || prefix.length === 0 || segment.words.length < prefix.length) return false;
  return prefix.every((word, index) => segment.words[index] === word && (segment.literal?.[index] ?? true));
}

/** Deny side: does ANY simple command bash might run, in any normalised view (assignments
 *  and wrappers stripped, `sh -c` strings read), start with the prefix's words? The first
 *  word is compared by basename on both sides (`/bin/rm` is `rm`). Best effort. */
export function anySegmentStartsWith(command: string, prefix: string): boolean {
  const words = prefixWords(prefix);
  const first = words?.[0];
  if (!words || first === undefined) return false;
  const head = basename(first);
  return lenientOnce(command).some((segment) =>
    commandViews(segment.words).some((view) => {
      const [viewHead] = view;
      return (
        viewHead !== undefined &&
        view.length >= words.length &&
        basename(viewHead) === head &&
        words.every((word, index) => index === 0 || view[index] === word)
      );
    }),
  );
}

/** Allow side: a rule covers a command only if EVERY segment matches its prefix. */
export function commandCoveredBy(command: string, prefix: string): boolean {
  const words = prefixWords(prefix);
  if (!words) return false;
  const split = splitOnce(command);
  if (!split.ok || split.segments.length === 0) return false;
  return split.segments.every((segment) => segmentMatches(segment, words));
}
