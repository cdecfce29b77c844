/**
 * The access token in the address bar. The server normally trades `?token=` for an
 * HttpOnly cookie and redirects; if the page still carries it (the Vite dev server, an
 * old server), it is removed from the address bar and history at once and kept in
 * memory only, for this page's calls.
 */
let token: string | null = null;

export function takeTokenFromUrl(loc: Location = window.location, hist: History = window.history): void {
  const url = new URL(loc.href);
  const found = url.searchParams.get('token');
  if (found === null) return;
  token = found;
  url.searchParams.delete('token');
  hist.replaceState(hist.state, '', url.pathname + url.search + url.hash);
}

export function authHeaders(): Record<string, string> {
  return token ? { Authorization: `Bearer ${token}` } : {};
}

export function socketToken(): string | undefined {
  return token ?? undefined;
}
