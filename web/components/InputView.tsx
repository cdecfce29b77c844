/**
 * A tool input, in full: a Bash command in monospace, Write/Edit/MultiEdit as a line diff
 * of old and new, anything else as formatted JSON.
 */
import { diffLines, fileChanges } from '../state/diff.ts';

function Json({ value, label }: { value: unknown; label: string }) {
  return (
    <pre className="mono json" aria-label={label} tabIndex={0}>
      {JSON.stringify(value, null, 2)}
    </pre>
  );
}

export function InputView({ toolName, input }: { toolName: string; input: Record<string, unknown> }) {
  if (toolName === 'Bash' && typeof input.command === 'string') {
    const { command, description, ...rest } = input;
    return (
      <div className="input">
        {typeof description === 'string' && <p className="description">{description}</p>}
        <pre className="mono command" aria-label="Command" tabIndex={0}>
          {command}
        </pre>
        {Object.keys(rest).length > 0 && <Json value={rest} label="Other input fields" />}
      </div>
    );
  }
  const changes = fileChanges(toolName, input);
  if (changes) {
    return (
      <div className="input">
        {changes.map((change, index) => (
          <figure className="diff" key={index}>
            <figcaption className="mono">
              {change.path}
              {change.note ? <span className="muted"> ({change.note})</span> : null}
            </figcaption>
            <pre className="mono" aria-label={`Changes to ${change.path}`} tabIndex={0}>
              {diffLines(change.before, change.after).map((line, i) => (
                <span key={i} className={`line line-${line.kind}`}>
                  <span aria-hidden="true">{line.kind === 'add' ? '+ ' : line.kind === 'del' ? '- ' : '  '}</span>
                  {line.kind === 'add' ? <ins>{line.text}</ins> : line.kind === 'del' ? <del>{line.text}</del> : line.text}
                  {'\n'}
                </span>
              ))}
            </pre>
          </figure>
        ))}
      </div>
    );
  }
  return (
    <div className="input">
      <Json value={input} label="Input" />
    </div>
  );
}
