/** `Cancel`, the waits' AbortSignal without a DOMException (SPEC.md CORE-F15). */
import { describe, expect, it } from 'vitest';
import { Cancel } from './cancel.ts';

describe('Cancel (CORE-F15)', () => {
  it('CORE-F15: cancel calls each listener once, not one removed before; a second cancel and a late listener do nothing', () => {
    const cancel = new Cancel();
    const calls: string[] = [];
    const removed = () => calls.push('removed');
    cancel.addEventListener('abort', () => calls.push('a'));
    cancel.addEventListener('abort', removed);
    cancel.addEventListener('abort', () => calls.push('b'));
    cancel.removeEventListener('abort', removed);
    expect(cancel.aborted).toBe(false);
    cancel.cancel();
    cancel.cancel();
    cancel.addEventListener('abort', () => calls.push('late'));
    expect(cancel.aborted).toBe(true);
    expect(calls).toEqual(['a', 'b']);
  });

  it('CORE-F15: a listener that throws does not keep the next from running; its error is reported', async () => {
    const cancel = new Cancel();
    const calls: string[] = [];
    const reported = new Promise<unknown>((resolve) => process.once('uncaughtException', resolve));
    cancel.addEventListener('abort', () => {
      throw new Error('listener broke');
    });
    cancel.addEventListener('abort', () => calls.push('next'));
    cancel.cancel();
    expect(calls).toEqual(['next']);
    expect(await reported).toMatchObject({ message: 'listener broke' });
  });
});
