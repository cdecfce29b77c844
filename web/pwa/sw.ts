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
 * It is also the one place where Web Push will live (contract-2 §4): see the seam at the end.
 */
import { cacheName, fitForShell, planFetch, staleCaches } from './cachePolicy.ts';

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

// --- Web Push seam (contract-2 §4; not built yet) -------------------------------------
// `push` will read the content-free payload ({type, id, toolName}), fetch the card from
// the server and show a notification with Allow and Deny actions (or only "Open" for a
// request that needs a careful look); `notificationclick` will send the decision, or
// open the card. Until then a push shows nothing, and a click only opens the queue.
worker.addEventListener('push', (event) => {
  void event; // not implemented: no subscription is made yet, so no push arrives
});

worker.addEventListener('notificationclick', (event) => {
  event.notification.close();
  event.waitUntil(
    worker.clients.matchAll({ type: 'window', includeUncontrolled: true }).then((windows) => {
      const open = windows[0];
      return open ? open.focus() : worker.clients.openWindow('/#/queue');
    }),
  );
});
