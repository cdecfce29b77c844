/**
 * Canonical JSON: object keys sorted at every level, `undefined` members left out. Two
 * bodies that differ only in key order get the same text, hence the same hash: the
 * server's idempotency `bodyHash`, the hook's idempotency key and exact-input rules.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((item) => (item === undefined ? 'null' : canonicalJson(item))).join(',')}]`;
  // The keys in UTF-16 code unit order (the default sort's order, and `<`'s), built as one
  // string: no entry arrays per key (the idempotency hash runs on every create, CORE-F9).
  const object = value as Record<string, unknown>;
  const keys = Object.keys(object).sort();
  let text = '{';
  for (const key of keys) {
    const member = object[key];
    if (member === undefined) continue;
    if (text.length > 1) text += ',';
    text += `${JSON.stringify(key)}:${canonicalJson(member)}`;
  }
  return `${text}}`;
}
