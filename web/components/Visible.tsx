/**
 * Untrusted text on screen: every hidden, control or bidi character as a marked escape
 * (protocol/visibleText.ts decides which), and the warning that goes next to it. Every
 * view that shows a tool input, path, rule, label or audit field renders it through
 * these, so what the human reads is what runs (docs/ui.md, "What the human sees").
 */
import { Fragment } from 'react';
import { HIDDEN_CHARACTERS_WARNING, hiddenNamesDeep, visibleSegments } from '../../protocol/index.ts';

/** `text` with its hidden characters shown as marked escapes (`\u202E`, `\r`). */
export function Visible({ text }: { text: string }) {
  const segments = visibleSegments(text);
  return (
    <>
      {segments.map((s, i) =>
        s.kind === 'text' ? (
          <Fragment key={i}>{s.text}</Fragment>
        ) : (
          <span key={i} className="escape" data-testid="hidden-char" title={s.name}>
            {s.text}
          </span>
        ),
      )}
    </>
  );
}

/** The warning shown next to untrusted text (any value) that holds hidden characters, naming
 *  them; `also`: names the server found in what it did not send (an audit entry's large input). */
export function HiddenWarning({ value, also = [] }: { value: unknown; also?: readonly string[] }) {
  const names = [...new Set([...hiddenNamesDeep(value), ...also])].slice(0, 5);
  if (names.length === 0) return null;
  return (
    <p className="phase error hidden-warning" role="note" data-testid="hidden-warning">
      ⚠ {HIDDEN_CHARACTERS_WARNING} <span className="small">Found: {names.join(', ')}.</span>
    </p>
  );
}

/** One line that says what a tool input is: its command, its path, else its JSON. */
export function inputSummary(input: unknown): string {
  if (typeof input !== 'object' || input === null) return input === undefined ? '' : JSON.stringify(input);
  const fields = input as Record<string, unknown>;
  for (const key of ['command', 'file_path', 'path', 'url', 'pattern']) if (typeof fields[key] === 'string') return fields[key];
  return JSON.stringify(input);
}
