/**
 * What a push notification shows and offers (docs/ui.md, "Notifications"): the title and
 * one-line body of a fetched request, and whether it may carry Allow and Deny actions that
 * decide without opening the app. Pure, so the service worker (sw.ts) and its tests share it.
 *
 * Actions are offered only for a request a glance can judge: a Read, or a Bash command made
 * of plain words (no shell metacharacter, no hidden character, not one line in several)
 * whose program is on a short allow-list of read-only ones (a bare name: `/bin/ls` is not). Everything else (every other tool, any edited
 * or unusual input) opens the card instead. This errs towards "open the card": a missing
 * action costs a tap, a wrong one could run a command nobody read.
 */
import { hasHiddenDeep, visibleText } from '../../protocol/visibleText.ts';

/** The longest body shown; the card has the rest. */
export const SUMMARY_MAX = 120;

/** Anything a shell reads as more than words: pipes, redirections, substitutions, globs, quotes, lists. */
const SHELL_SYNTAX = /[^A-Za-z0-9 _./:=@%+,-]/;

/** Programs a glance can judge: they read and print, and none of their flags runs a
 *  program or writes a file. An allow-list, so a program nobody thought of opens the card. */
const GLANCEABLE = new Set(['ls', 'pwd', 'cat', 'head', 'tail', 'wc', 'grep', 'rg', 'echo', 'date', 'whoami', 'which', 'file', 'stat', 'du', 'df', 'tree']);

/** git sub-commands that only read, without the flags that write (`--output`) or run (`-c`, `--ext-diff`). */
const GIT_READS = new Set(['status', 'diff', 'log', 'show', 'branch', 'blame', 'rev-parse', 'ls-files']);

function glanceable(words: string[]): boolean {
  const [program, sub, ...rest] = words;
  if (program && GLANCEABLE.has(program)) return !words.some((w) => w.startsWith('--output') || w === '-o' || w === '--pre' || w.startsWith('--pre='));
  if (program !== 'git' || !sub || !GIT_READS.has(sub)) return false;
  return !rest.some(
    (w) =>
      w === '-c' ||
      w.startsWith('--output') ||
      w === '--ext-diff' ||
      w === '-D' ||
      w === '-d' ||
      w === '-m' ||
      w === '-M' ||
      w === '--delete' ||
      w.startsWith('--force'),
  );
}

export type Fetched = { toolName: string; input: Record<string, unknown> };

/** True when Allow and Deny may be offered in the notification. */
export function decidableFromNotification(request: Fetched): boolean {
  if (hasHiddenDeep(request.input)) return false;
  switch (request.toolName) {
    case 'Read':
      return typeof request.input.file_path === 'string';
    case 'Bash': {
      const command = request.input.command;
      if (typeof command !== 'string' || command.trim() === '' || SHELL_SYNTAX.test(command)) return false;
      return glanceable(command.trim().split(/ +/));
    }
    default:
      return false;
  }
}

function summaryOf(request: Fetched): string {
  const { command, file_path: filePath } = request.input;
  if (request.toolName === 'Bash' && typeof command === 'string') return command;
  if (typeof filePath === 'string') return filePath;
  return JSON.stringify(request.input);
}

/** The notification's title and body: the tool and one line of the input, hidden characters escaped. */
export function noticeText(request: Fetched): { title: string; body: string } {
  const line = visibleText(summaryOf(request)).text.replace(/\n/g, '\\n');
  const body = line.length > SUMMARY_MAX ? `${line.slice(0, SUMMARY_MAX - 1)}…` : line;
  return { title: `${visibleText(request.toolName).text} wants to run`, body };
}
