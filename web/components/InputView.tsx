/**
 * A tool input, in full: a Bash command in monospace, Write/Edit/MultiEdit as a line diff
 * of old and new, anything else as formatted JSON. Every string goes through `Visible`,
 * and an input that holds hidden or control characters carries the warning on top.
 */
import { visibleText } from '../../protocol/index.ts';
import { diffLines, fileChanges } from '../state/diff.ts';
import { HiddenWarning, Visible } from './Visible.tsx';

function Json({ value, label }: { value: unknown; label: string }) {
  // JSON.stringify already writes C0 controls as `\r`, `\u001b`; Visible marks the rest.
  return (
    <pre className="mono json code" aria-label={label}>
      <Visible text={JSON.stringify(value, null, 2)} />
    </pre>
  );
}

function Fields({ toolName, input }: { toolName: string; input: Record<string, unknown> }) {
  if (toolName === 'Bash' && typeof input.command === 'string') {
    const { command, description, ...rest } = input;
    return (
      <>
        {typeof description === 'string' && (
          <p className="description">
            <Visible text={description} />
          </p>
        )}
        <pre className="mono command code" aria-label="Command">
          <Visible text={command} />
        </pre>
        {Object.keys(rest).length > 0 && <Json value={rest} label="Other input fields" />}
      </>
    );
  }
  const changes = fileChanges(toolName, input);
  if (changes) {
    return (
      <>
        {changes.map((change, index) => (
          <figure className="diff" key={index}>
            <figcaption className="mono code">
              <Visible text={change.path} />
              {change.note ? (
                <span className="muted">
                  {' '}
                  (<Visible text={change.note} />)
                </span>
              ) : null}
            </figcaption>
            <pre className="mono code" aria-label={`Changes to ${visibleText(change.path).text}`}>
              {diffLines(change.before, change.after).map((line, i) => (
                <span key={i} className={`line line-${line.kind}`}>
                  <span aria-hidden="true">{line.kind === 'add' ? '+ ' : line.kind === 'del' ? '- ' : '  '}</span>
                  {line.kind === 'add' ? (
                    <ins>
                      <Visible text={line.text} />
                    </ins>
                  ) : line.kind === 'del' ? (
                    <del>
                      <Visible text={line.text} />
                    </del>
                  ) : (
                    <Visible text={line.text} />
                  )}
                  {'\n'}
                </span>
              ))}
            </pre>
          </figure>
        ))}
      </>
    );
  }
  return <Json value={input} label="Input" />;
}

export function InputView({ toolName, input }: { toolName: string; input: Record<string, unknown> }) {
  return (
    <div className="input">
      <HiddenWarning value={input} />
      <Fields toolName={toolName} input={input} />
    </div>
  );
}
