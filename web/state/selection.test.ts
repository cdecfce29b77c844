import { describe, expect, it } from 'vitest';
import { neighbour } from './selection.ts';

describe('neighbour', () => {
  it('UI-30: the card after the one that left, not the first', () => {
    expect(neighbour(['a', 'b', 'c'], ['a', 'c'], 'b')).toBe('c');
    expect(neighbour(['a', 'b', 'c'], ['a', 'b', 'c'], 'b')).toBe('c'); // decided, still listed while sending
  });
  it('UI-30: the card before it when it was the last, else nothing', () => {
    expect(neighbour(['a', 'b', 'c'], ['a', 'b'], 'c')).toBe('b');
    expect(neighbour(['a'], [], 'a')).toBeNull();
    expect(neighbour(['a'], ['a'], 'a')).toBeNull();
  });
  it('UI-30: skips neighbours that left at the same time', () => {
    expect(neighbour(['a', 'b', 'c', 'd'], ['a', 'd'], 'b')).toBe('d');
    expect(neighbour(['a', 'b', 'c'], ['a'], 'c')).toBe('a');
  });
  it('UI-31: a card that arrived (not in the shown list) is only chosen when nothing shown is left', () => {
    expect(neighbour(['a', 'b'], ['a', 'x'], 'b')).toBe('a');
  });
});
