/**
 * Why the link is down: a browser reports a WebSocket upgrade refused with 401 only as a
 * failed connection, so a cheap authenticated HTTP call tells "this page's cookie is
 * refused" (401) from "the server cannot be reached" (no answer at all). Any other answer
 * means the server is there and lets us in: the link is just reconnecting.
 */
import { appHeaders } from './api.ts';

export type Access = 'ok' | 'unauthorised' | 'unreachable';

export async function probeAccess(): Promise<Access> {
  try {
    const response = await fetch('/api/devices', { credentials: 'same-origin', headers: appHeaders(), cache: 'no-store' });
    return response.status === 401 ? 'unauthorised' : 'ok';
  } catch {
    return 'unreachable';
  }
}
