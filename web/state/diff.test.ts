import { describe, expect, it } from 'vitest';
import { diffLines, fileChanges } from './diff.ts';
import { parseEditedInput } from './editInput.ts';

describe('card input views', () => {
  it('UI-10: an Edit shows a line diff of old and new', () => {
    expect(diffLines('a\nb\nc', 'a\nB\nc')).toEqual([
      { kind: 'same', text: 'a' },
      { kind: 'del', text: 'b' },
      { kind: 'add', text: 'B' },
      { kind: 'same', text: 'c' },
    ]);
    expect(fileChanges('Edit', { file_path: '/x', old_string: 'a', new_string: 'b' })).toEqual([{ path: '/x', before: 'a', after: 'b' }]);
  });

  it('UI-10: a Write is all added lines; other tools have no diff', () => {
    const [change] = fileChanges('Write', { file_path: '/x', content: 'one\ntwo' })!;
    expect(diffLines(change!.before, change!.after).map((l) => l.kind)).toEqual(['add', 'add']);
    expect(fileChanges('Bash', { command: 'ls' })).toBeNull();
    expect(fileChanges('Edit', { file_path: '/x', old_string: 1 })).toBeNull();
  });

  it('UI-11: Edit and allow validates the edited input before sending', () => {
    expect(parseEditedInput('{"command":"ls"}')).toEqual({ ok: true, value: { command: 'ls' } });
    expect(parseEditedInput('{nope')).toMatchObject({ ok: false });
    expect(parseEditedInput('[1]')).toEqual({ ok: false, error: 'The input must be a JSON object.' });
    expect(parseEditedInput(JSON.stringify({ big: 'x'.repeat(300 * 1024) }))).toMatchObject({ ok: false });
  });
});
