/**
 * Line diff for Write/Edit cards: a longest-common-subsequence table, good for the
 * sizes a person reads. Past LIMIT lines on a side it falls back to "all removed, all
 * added" so a huge file cannot freeze the tab (O(n·m) memory).
 */
export type DiffLine = { kind: 'same' | 'add' | 'del'; text: string };

const LIMIT = 1500;

export function diffLines(oldText: string, newText: string): DiffLine[] {
  const a = oldText === '' ? [] : oldText.split('\n');
  const b = newText === '' ? [] : newText.split('\n');
  if (a.length > LIMIT || b.length > LIMIT) {
    return [...a.map((text) => ({ kind: 'del' as const, text })), ...b.map((text) => ({ kind: 'add' as const, text }))];
  }
  const n = a.length;
  const m = b.length;
  // lcs[i][j]: LCS length of a[i..] and b[j..], in one flat array.
  const lcs = new Uint32Array((n + 1) * (m + 1));
  // Every index below is in range: i <= n, j <= m, and a[i], b[j] are read only for i < n, j < m.
  const cell = (i: number, j: number) => lcs[i * (m + 1) + j]!;
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i * (m + 1) + j] = a[i] === b[j] ? cell(i + 1, j + 1) + 1 : Math.max(cell(i + 1, j), cell(i, j + 1));
    }
  }
  const out: DiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      out.push({ kind: 'same', text: a[i]! });
      i++;
      j++;
    } else if (cell(i + 1, j) >= cell(i, j + 1)) {
      out.push({ kind: 'del', text: a[i++]! });
    } else {
      out.push({ kind: 'add', text: b[j++]! });
    }
  }
  while (i < n) out.push({ kind: 'del', text: a[i++]! });
  while (j < m) out.push({ kind: 'add', text: b[j++]! });
  return out;
}

export type FileChange = { path: string; before: string; after: string; note?: string };

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** The file changes a Write/Edit/MultiEdit input describes, or null for other tools. */
export function fileChanges(toolName: string, input: Record<string, unknown>): FileChange[] | null {
  const path = str(input.file_path) ?? str(input.path) ?? '(no path)';
  if (toolName === 'Write') {
    const content = str(input.content);
    return content === undefined ? null : [{ path, before: '', after: content, note: 'whole file written' }];
  }
  if (toolName === 'Edit') {
    const before = str(input.old_string);
    const after = str(input.new_string);
    if (before === undefined || after === undefined) return null;
    return [{ path, before, after, ...(input.replace_all === true ? { note: 'every occurrence' } : {}) }];
  }
  if (toolName === 'MultiEdit' && Array.isArray(input.edits)) {
    const changes: FileChange[] = [];
    for (const edit of input.edits as unknown[]) {
      if (typeof edit !== 'object' || edit === null) return null;
      const e = edit as Record<string, unknown>;
      const before = str(e.old_string);
      const after = str(e.new_string);
      if (before === undefined || after === undefined) return null;
      changes.push({ path, before, after });
    }
    return changes;
  }
  return null;
}
