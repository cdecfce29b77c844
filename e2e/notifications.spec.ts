/**
 * The service worker's side of Web Push, in Chromium against a real server: a push event
 * dispatched to the registered worker (a real `PushEvent`, built in the worker) makes it
 * fetch the request and show its notification; the notification's Allow action decides
 * the request (the agent's long-poll sees it); a careful request gets no actions; a
 * `permission-finished` push closes the notification.
 */
import type { BrowserContext, Page, Worker } from '@playwright/test';
import { bash, expect, openApp, test } from './support/gatehouse.ts';

type Shown = { tag: string; title: string; body: string; actions: string[] };

async function registeredWorker(page: Page, context: BrowserContext): Promise<Worker> {
  await page.evaluate(() => navigator.serviceWorker.ready.then(() => true));
  const existing = context.serviceWorkers()[0];
  return existing ?? context.waitForEvent('serviceworker');
}

/** Dispatches a real PushEvent in the worker and waits for the promises its handler gave waitUntil. */
function push(worker: Worker, payload: unknown): Promise<void> {
  return worker.evaluate(async (data) => {
    const scope = self as unknown as { dispatchEvent(e: Event): boolean };
    const PushEventCtor = (self as unknown as { PushEvent: new (type: string, init: { data: string }) => Event }).PushEvent;
    const event = new PushEventCtor('push', { data });
    // A script-made event may not extend its lifetime; collect what the handler waits on.
    const waits: Promise<unknown>[] = [];
    Object.defineProperty(event, 'waitUntil', { value: (p: Promise<unknown>) => waits.push(p) });
    scope.dispatchEvent(event);
    await Promise.all(waits);
  }, JSON.stringify(payload));
}

/** Dispatches a real NotificationEvent (a click, or a click on an action) on the notification with this tag. */
function click(worker: Worker, tag: string, action: string): Promise<void> {
  return worker.evaluate(
    async ({ tag, action }) => {
      const reg = (self as unknown as { registration: ServiceWorkerRegistration }).registration;
      const [notification] = await reg.getNotifications({ tag });
      const Ctor = (self as unknown as { NotificationEvent: new (type: string, init: { notification: Notification; action: string }) => Event })
        .NotificationEvent;
      const event = new Ctor('notificationclick', { notification: notification!, action });
      const waits: Promise<unknown>[] = [];
      Object.defineProperty(event, 'waitUntil', { value: (p: Promise<unknown>) => waits.push(p) });
      (self as unknown as { dispatchEvent(e: Event): boolean }).dispatchEvent(event);
      await Promise.all(waits);
    },
    { tag, action },
  );
}

function shown(worker: Worker): Promise<Shown[]> {
  return worker.evaluate(async () => {
    const reg = (self as unknown as { registration: ServiceWorkerRegistration }).registration;
    const list = await reg.getNotifications();
    return list.map((n) => ({
      tag: n.tag,
      title: n.title,
      body: n.body,
      actions: ((n as unknown as { actions: Array<{ action: string }> }).actions ?? []).map((a) => a.action),
    }));
  });
}

test.beforeEach(async ({ context }) => {
  await context.grantPermissions(['notifications']);
});

test('APP-12, APP-14: a push shows the request (tool, one-line summary, tag = id) with Allow and Deny; Allow decides it for the agent', async ({
  page,
  context,
  gatehouse,
}) => {
  await openApp(page, gatehouse);
  const worker = await registeredWorker(page, context);
  const id = await gatehouse.createRequest(bash('git status'));
  await push(worker, { type: 'permission-request', id, toolName: 'Bash' });
  expect(await shown(worker)).toEqual([{ tag: id, title: 'Bash wants to run', body: 'git status', actions: ['allow', 'deny'] }]);

  await click(worker, id, 'allow');
  const outcome = await gatehouse.outcome(id);
  expect(outcome).toMatchObject({ status: 'resolved', decision: 'allow' });
  expect(await shown(worker)).toEqual([]);
});

test('APP-13: a destructive command gets no actions (the body escapes hidden characters), and a crafted allow click on it decides nothing', async ({
  page,
  context,
  gatehouse,
}) => {
  await openApp(page, gatehouse);
  const worker = await registeredWorker(page, context);
  const id = await gatehouse.createRequest(bash('rm -rf ./build\u202E'));
  await push(worker, { type: 'permission-request', id, toolName: 'Bash' });
  expect(await shown(worker)).toEqual([{ tag: id, title: 'Bash wants to run', body: 'rm -rf ./build\\u202E', actions: [] }]);
  await click(worker, id, 'allow');
  const res = await gatehouse.server.api(`/api/permission-requests/${id}`);
  expect(res.body.status).toBe('pending');
});

test('APP-14: permission-finished closes the notification with that tag, and only that one; Deny denies the other', async ({ page, context, gatehouse }) => {
  await openApp(page, gatehouse);
  const worker = await registeredWorker(page, context);
  const first = await gatehouse.createRequest(bash('ls'));
  const second = await gatehouse.createRequest(bash('pwd'));
  await push(worker, { type: 'permission-request', id: first, toolName: 'Bash' });
  await push(worker, { type: 'permission-request', id: second, toolName: 'Bash' });
  expect((await shown(worker)).map((n) => n.tag).sort()).toEqual([first, second].sort());
  await push(worker, { type: 'permission-finished', id: first });
  expect((await shown(worker)).map((n) => n.tag)).toEqual([second]);
  // Deny decides the other one the same way.
  await click(worker, second, 'deny');
  expect(await gatehouse.outcome(second)).toMatchObject({ status: 'resolved', decision: 'deny' });
  expect(await shown(worker)).toEqual([]);
});

test('APP-15: when the request cannot be fetched (the device was ended: 401), the notification says only "A request is waiting", with no tool, input or actions', async ({
  page,
  context,
  gatehouse,
}) => {
  await openApp(page, gatehouse);
  const worker = await registeredWorker(page, context);
  const id = await gatehouse.createRequest(bash('git status'));
  await context.clearCookies();
  await push(worker, { type: 'permission-request', id, toolName: 'Bash' });
  expect(await shown(worker)).toEqual([{ tag: id, title: 'Gatehouse', body: 'A request is waiting', actions: [] }]);
});
