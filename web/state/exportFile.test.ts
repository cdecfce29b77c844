import { describe, expect, it } from 'vitest';
import { csvCell, toCsv } from './exportFile.ts';

describe('exports', () => {
  it('CORE-O9: a CSV cell that a spreadsheet would run as a formula is neutralised; quoting per RFC 4180', () => {
    expect(csvCell('=HYPERLINK("http://evil","x")')).toBe(`"'=HYPERLINK(""http://evil"",""x"")"`);
    for (const start of ['+', '-', '@', '\t', '\r']) expect(csvCell(`${start}1`).includes(`'${start}1`)).toBe(true);
    expect(csvCell('git status')).toBe('git status');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('line\nbreak')).toBe('"line\nbreak"');
    expect(csvCell(-3)).toBe('-3');
    expect(csvCell(undefined)).toBe('');
    expect(toCsv(['a', 'b'], [['1', '=2']])).toBe("a,b\r\n1,'=2\r\n");
  });
});
