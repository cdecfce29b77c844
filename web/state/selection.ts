/**
 * Where the queue's keyboard selection goes when the selected card leaves (docs/ui.md,
 * "Keyboard selection"): to its neighbour in the list as it was shown, never to the top.
 */

/** The card next to `id` in `before` that is still in `now` (after it, else before it). */
export function neighbour(before: readonly string[], now: readonly string[], id: string): string | null {
  const index = before.indexOf(id);
  if (index < 0) return now[0] ?? null;
  const after = before.slice(index + 1).find((x) => x !== id && now.includes(x));
  if (after !== undefined) return after;
  const earlier = before
    .slice(0, index)
    .reverse()
    .find((x) => now.includes(x));
  return earlier ?? null;
}
