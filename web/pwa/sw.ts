/**
 * The service worker, served at `/sw.js` with scope `/`. Built by
 * scripts/lib/serviceWorkerPlugin.ts, which fills in this build's version and the list of
 * its shell files. It owns three things:
 *
 * - install: fetch the shell of this build into a cache named by its version;
 * - fetch: answer shell files from that cache, pages from the network with the cached shell
 *   as the offline fallback, and leave everything else alone (cachePolicy.ts: never the
 *   API, the socket, a pairing link, or anything with a query string such as `?token=`);
 * - activate: delete the caches of older builds and take control of open pages.
 *
 * It also shows Web Push notifications and sends their Allow and Deny (contract-2 §4): see the end.
 */
import { z } from 'zod';
import { requestView } from '../../protocol/http.ts';
import { cacheName, fitForShell, planFetch, staleCaches } from './cachePolicy.ts';
import { decidableFromNotification, type Fetched, noticeText } from './pushNotice.ts';

declare const __GATEHOUSE_VERSION__: string;
declare const __GATEHOUSE_SHELL__: string[];

// The DOM lib has no service worker types, and the webworker lib clashes with it in one
// program: these are the few members used here.
type ExtendableEvent = Event & { waitUntil(promise: Promise<unknown>): void };
type FetchEvent = ExtendableEvent & { request: Request; respondWith(response: Response | Promise<Response>): void };
type PushEvent = ExtendableEvent & { data: { text(): string } | null };
type NotificationEvent = ExtendableEvent & { notification: Notification; action: string };
type WindowClient = { url: string; focus(): Promise<unknown>; navigate(url: string): Promise<unknown> };
type WorkerScope = {
  location: Location;
  registration: ServiceWorkerRegistration;
  skipWaiting(): Promise<void>;
  clients: {
    claim(): Promise<void>;
    matchAll(options: { type: 'window'; includeUncontrolled: boolean }): Promise<WindowClient[]>;
    openWindow(url: string): Promise<unknown>;
  };
  addEventListener(type: 'install' | 'activate', listener: (event: ExtendableEvent) => void): void;
  addEventListener(type: 'fetch', listener: (event: FetchEvent) => void): void;
  addEventListener(type: 'push', listener: (event: PushEvent) => void): void;
  addEventListener(type: 'notificationclick', listener: (event: NotificationEvent) => void): void;
};

const worker = self as unknown as WorkerScope;
const VERSION = __GATEHOUSE_VERSION__;
const SHELL = new Set(__GATEHOUSE_SHELL__);
const CACHE = cacheName(VERSION);

/** All or nothing: a shell with a missing file would open half an app offline. */
async function precache(): Promise<void> {
  const cache = await caches.open(CACHE);
  const entries = await Promise.all(
    [...SHELL].map(async (path) => {
      const response = await fetch(path, { cache: 'reload', credentials: 'same-origin', redirect: 'error' });
      if (!fitForShell(response)) throw new Error(`shell file ${path} answered ${response.status}`);
      return [path, response] as const;
    }),
  );
  await Promise.all(entries.map(([path, response]) => cache.put(path, response)));
}

worker.addEventListener('install', (event) => {
  // A new build takes over at once: its shell is complete before it does.
  event.waitUntil(precache().then(() => worker.skipWaiting()));
});

worker.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(staleCaches(names, VERSION).map((name) => caches.delete(name))))
      .then(() => worker.clients.claim()),
  );
});

async function fromShell(path: string): Promise<Response | undefined> {
  const cache = await caches.open(CACHE);
  return cache.match(path);
}

worker.addEventListener('fetch', (event) => {
  const request = event.request;
  const plan = planFetch({ method: request.method, url: request.url, mode: request.mode }, worker.location.origin, SHELL);
  switch (plan.kind) {
    case 'network':
      return; // not intercepted
    case 'shell':
      event.respondWith(fromShell(new URL(request.url).pathname).then((cached) => cached ?? fetch(request)));
      return;
    case 'page':
      event.respondWith(
        fetch(request).catch(async (error: unknown) => {
          const cached = await fromShell('/');
          if (cached) return cached;
          throw error;
        }),
      );
      return;
    default: {
      const never: never = plan;
      return never;
    }
  }
});

// --- Web Push (contract-2 §4; docs/ui.md, "Notifications") ----------------------------
// The push payload holds no input: the worker fetches the request with the device's cookie
// (and the header the cookie rule of server/security/guard.ts requires), shows one
// notification per request (tag = its id), and offers Allow and Deny only where
// pushNotice.ts says a glance can judge it. A failed fetch (e.g. 401: the device was ended)
// shows a generic notice with no tool and no input, which only opens the app.

const API_HEADERS = { 'X-Gatehouse-Client': 'web' };
const QUEUE_URL = '/#/queue';
const pushPayload = z.discriminatedUnion('type', [
  z.object({ type: z.literal('permission-request'), id: z.string().min(1), toolName: z.string().optional() }),
  z.object({ type: z.literal('permission-finished'), id: z.string().min(1) }),
]);

/** The request, or `gone` (no longer pending: nothing to ask), or `unreadable` (refused, offline, malformed). */
type Fetch = { kind: 'pending'; request: Fetched } | { kind: 'gone' } | { kind: 'unreadable' };

/** What a notification needs of the request view (protocol/http.ts `requestView`). */
const noticeView = requestView.pick({ status: true, toolName: true, input: true });

async function fetchRequest(id: string): Promise<Fetch> {
  try {
    const res = await fetch(`/api/permission-requests/${encodeURIComponent(id)}`, { credentials: 'same-origin', headers: API_HEADERS });
    if (!res.ok) return { kind: 'unreadable' };
    const parsed = noticeView.safeParse(await res.json());
    if (!parsed.success) return { kind: 'unreadable' };
    if (parsed.data.status !== 'pending') return { kind: 'gone' };
    return { kind: 'pending', request: { toolName: parsed.data.toolName, input: parsed.data.input } };
  } catch {
    return { kind: 'unreadable' };
  }
}

// The DOM lib's NotificationOptions lacks `actions` (a service worker only member).
type WorkerNotificationOptions = NotificationOptions & { actions: Array<{ action: string; title: string }> };

async function showRequest(id: string): Promise<void> {
  const fetched = await fetchRequest(id);
  switch (fetched.kind) {
    case 'gone':
      return;
    case 'unreadable':
      await worker.registration.showNotification('Gatehouse', { body: 'A request is waiting', tag: id, data: { id, decidable: false } });
      return;
    case 'pending': {
      const decidable = decidableFromNotification(fetched.request);
      const { title, body } = noticeText(fetched.request);
      const options: WorkerNotificationOptions = {
        body,
        tag: id,
        requireInteraction: true,
        data: { id, decidable },
        actions: decidable
          ? [
              { action: 'allow', title: 'Allow' },
              { action: 'deny', title: 'Deny' },
            ]
          : [],
      };
      await worker.registration.showNotification(title, options);
      return;
    }
    default: {
      const never: never = fetched;
      return never;
    }
  }
}

async function closeTagged(id: string): Promise<void> {
  for (const notification of await worker.registration.getNotifications({ tag: id })) notification.close();
}

worker.addEventListener('push', (event) => {
  let parsed: z.infer<typeof pushPayload> | undefined;
  try {
    const result = pushPayload.safeParse(JSON.parse(event.data?.text() ?? ''));
    parsed = result.success ? result.data : undefined;
  } catch {
    parsed = undefined;
  }
  if (!parsed) return; // not ours: show nothing
  switch (parsed.type) {
    case 'permission-request':
      event.waitUntil(showRequest(parsed.id));
      return;
    case 'permission-finished':
      event.waitUntil(closeTagged(parsed.id));
      return;
    default: {
      const never: never = parsed;
      return never;
    }
  }
});

function openApp(): Promise<unknown> {
  return worker.clients.matchAll({ type: 'window', includeUncontrolled: true }).then((windows) => {
    const open = windows[0];
    // The browser may refuse focus (no user activation): the notification is closed either way.
    return (open ? open.focus() : worker.clients.openWindow(QUEUE_URL)).catch(() => undefined);
  });
}

async function decide(id: string, decision: 'allow' | 'deny'): Promise<void> {
  const res = await fetch(`/api/permission-requests/${encodeURIComponent(id)}/decision`, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { ...API_HEADERS, 'Content-Type': 'application/json' },
    body: JSON.stringify({ decision }),
  });
  // Refused (an ended device, decided elsewhere, expired): let the human look in the app.
  if (!res.ok) await openApp();
}

worker.addEventListener('notificationclick', (event) => {
  const notification = event.notification;
  notification.close();
  const data = (notification.data ?? {}) as { id?: unknown; decidable?: unknown };
  const action = event.action;
  // An action decides only on a notification that offered it (a crafted click cannot).
  if ((action === 'allow' || action === 'deny') && typeof data.id === 'string' && data.decidable === true) {
    event.waitUntil(decide(data.id, action));
    return;
  }
  event.waitUntil(openApp());
});
