/**
 * Which push services the server may POST to (docs/operations.md, "Web Push"). A push
 * endpoint comes from a browser, so without this list anyone holding a device could make
 * the server send requests to any address (SSRF). An entry is an exact origin
 * (`https://fcm.googleapis.com`, `http://127.0.0.1:9000`) or a pattern whose leftmost
 * label is `*` (`https://*.notify.windows.com`): the `*` stands for exactly one DNS label
 * (letters, digits, `-`), never a dot, so `a.b.notify.windows.com` does not match.
 * Scheme and port are compared exactly (443 is the default of https). Pure.
 */

/** The public push services of Chrome (FCM), Firefox (Mozilla autopush), Safari (Apple)
 *  and Edge (Windows Push Notification Services, whose hosts are `wns2-<region>…`). */
export const DEFAULT_PUSH_ORIGINS = [
  'https://fcm.googleapis.com',
  'https://updates.push.services.mozilla.com',
  'https://web.push.apple.com',
  'https://*.notify.windows.com',
] as const;

export type PushOrigin = { text: string; protocol: 'http:' | 'https:'; port: string; host: string; wildcard: boolean };

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Parse one entry of `--push-allowed-origins`; a string is the reason it is refused. */
export function parsePushOrigin(raw: string): PushOrigin | string {
  const text = raw.trim();
  const wildcard = /^https?:\/\/\*\./i.test(text);
  let url: URL;
  try {
    url = new URL(wildcard ? text.replace('*.', 'wildcard-label.') : text);
  } catch {
    return `"${raw}" is not an origin such as https://push.example.com or https://*.example.com`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `"${raw}" must start with https:// (or http:// for a local test service)`;
  if (url.username || url.password || (url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) {
    return `"${raw}" must be an origin only (scheme, host and port), without a path, query or credentials`;
  }
  let host = url.hostname.toLowerCase();
  if (wildcard) {
    host = host.slice('wildcard-label.'.length);
    // `https://*.com` would allow every .com host: require at least a registrable pair.
    if (host.split('.').length < 2) return `"${raw}": a * pattern needs at least two labels after it, e.g. https://*.notify.windows.com`;
  }
  const display = `${url.protocol}//${wildcard ? '*.' : ''}${host}${url.port ? `:${url.port}` : ''}`;
  return { text: display, protocol: url.protocol, port: url.port, host, wildcard };
}

/** Matches endpoints against a parsed list. */
export function pushOriginMatcher(entries: readonly string[]): (endpoint: URL) => boolean {
  const parsed = entries.map((entry) => {
    const result = parsePushOrigin(entry);
    if (typeof result === 'string') throw new Error(result);
    return result;
  });
  return (endpoint) => {
    const host = endpoint.hostname.toLowerCase();
    return parsed.some((entry) => {
      if (endpoint.protocol !== entry.protocol || endpoint.port !== entry.port) return false;
      if (!entry.wildcard) return host === entry.host;
      if (!host.endsWith(`.${entry.host}`)) return false;
      return LABEL.test(host.slice(0, host.length - entry.host.length - 1));
    });
  };
}
