/**
 * Splits an `--agent acp:CMD` command line into words, shell-style but with no shell:
 * blanks separate words; single quotes keep everything literally; double quotes keep
 * blanks and allow `\"` and `\\`; a backslash outside quotes escapes the next character.
 * No expansion of any kind ($VAR, globs, ~): the words are run as they are (contract-2 §5).
 */
export function splitWords(line: string): { ok: true; words: string[] } | { ok: false; error: string } {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < line.length; i += 1) {
    const ch = line[i];
    if (quote === "'") {
      if (ch === "'") quote = undefined;
      else word += ch;
      continue;
    }
    if (quote === '"') {
      if (ch === '"') quote = undefined;
      else if (ch === '\\' && (line[i + 1] === '"' || line[i + 1] === '\\')) word += line[++i];
      else word += ch;
      continue;
    }
    if (ch === ' ' || ch === '\t' || ch === '\n') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      continue;
    }
    inWord = true;
    if (ch === "'" || ch === '"') quote = ch;
    else if (ch === '\\') {
      if (i + 1 >= line.length) return { ok: false, error: 'ends with a lone backslash' };
      word += line[++i];
    } else word += ch;
  }
  if (quote) return { ok: false, error: `an unterminated ${quote === '"' ? 'double' : 'single'} quote` };
  if (inWord) words.push(word);
  if (words.length === 0) return { ok: false, error: 'no command' };
  return { ok: true, words };
}
