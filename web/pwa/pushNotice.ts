/**
 * What a push notification shows and offers (docs/ui.md, "Notifications"): the title and
 * one-line body of a fetched request, and whether it may carry Allow and Deny actions that
 * decide without opening the app. Pure, so the service worker (sw.ts) and its tests share it.
 *
 * Actions are offered only for a request a glance can judge: a Read, or a Bash command made
 * of plain words (no shell metacharacter, no hidden character, not one line in several)
 * whose words name no destructive program. Everything else (every other tool, any edited
 * or unusual input) opens the card instead. This errs towards "open the card": a missing
 * action costs a tap, a wrong one could run a command nobody read.
 */
import { hasHiddenDeep, visibleText } from '../../protocol/visibleText.ts';

/** The longest body shown; the card has the rest. */
export const SUMMARY_MAX = 120;

/** Anything a shell reads as more than words: pipes, redirections, substitutions, globs, quotes, lists. */
const SHELL_SYNTAX = /[^A-Za-z0-9 _./:=@%+,-]/;

/** Programs whose plain use can destroy, escalate, or publish. Matched as whole words. */
const DESTRUCTIVE_WORDS = new Set([
  'rm',
  'rmdir',
  'unlink',
  'shred',
  'truncate',
  'dd',
  'mkfs',
  'fdisk',
  'mv',
  'cp',
  'ln',
  'chmod',
  'chown',
  'chgrp',
  'sudo',
  'su',
  'doas',
  'kill',
  'killall',
  'pkill',
  'shutdown',
  'reboot',
  'halt',
  'poweroff',
  'systemctl',
  'curl',
  'wget',
  'ssh',
  'scp',
  'rsync',
  'nc',
  'eval',
  'exec',
  'sh',
  'bash',
  'zsh',
  'env',
  'xargs',
  'find',
  'docker',
  'kubectl',
  'terraform',
  'npm',
  'npx',
  'pip',
  'crontab',
]);

/** git sub-commands and flags that rewrite or publish history. */
function destructiveGit(words: string[]): boolean {
  if (words[0] !== 'git') return false;
  if (words.includes('push') || words.includes('reset') || words.includes('clean') || words.includes('filter-branch')) return true;
  return words.some((w) => w === '-f' || w.startsWith('--force') || w === '--hard' || w === '-D');
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
      const words = command.trim().split(/ +/);
      if (words.some((w) => DESTRUCTIVE_WORDS.has(w.split('/').pop() ?? w))) return false;
      return !destructiveGit(words);
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
