import { describe, expect, it } from 'vitest';
import { safeRedirectPath } from './static.ts';

describe('the ?token= redirect', () => {
  it('AUTH-8: safeRedirectPath keeps paths of this origin and turns anything a browser reads as another origin into /', () => {
    for (const path of ['/', '/history', '/a//b', '/a/%2F%2Fevil', '/x.html', '/%5Cevil']) expect(safeRedirectPath(path), path).toBe(path);
    for (const path of ['//evil.example', '//evil.example/', '/\\evil.example', '/\\/evil', '///evil', '', 'evil.example', 'http://evil.example/', '/a b', '/a\tb', '/\u202e']) {
      expect(safeRedirectPath(path), JSON.stringify(path)).toBe('/');
    }
    // What each of them means to a browser: the kept ones stay on this origin.
    for (const path of ['/', '/history', '/a//b', '/a/%2F%2Fevil', '/%5Cevil']) expect(new URL(path, 'http://127.0.0.1:3000/x').origin).toBe('http://127.0.0.1:3000');
    expect(new URL('//evil.example/', 'http://127.0.0.1:3000/x').origin).not.toBe('http://127.0.0.1:3000');
    expect(new URL('/\\evil.example/', 'http://127.0.0.1:3000/x').origin).not.toBe('http://127.0.0.1:3000');
  });
});
