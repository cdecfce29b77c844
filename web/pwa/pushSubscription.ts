/**
 * This device's Web Push subscription (contract-2 §4, docs/ui.md "Devices"): asked for
 * only when the human presses "Turn on notifications" (a browser refuses a permission
 * prompt that no gesture started). Subscribing asks for the notification permission,
 * subscribes the service worker's PushManager with the server's VAPID public key
 * (`GET /api/push/key`) and posts `PushSubscription.toJSON()` to
 * `POST /api/push/subscriptions`; turning them off deletes it on the server first
 * (`DELETE /api/push/subscriptions` with its endpoint), then in the browser. The server
 * ties the subscription to this device, so ending the device ends its pushes too.
 */
import { z } from 'zod';
import { ApiError, api } from '../state/api.ts';

export type PushStatus =
  /** No service worker, PushManager or Notification here (an http page off localhost, an old browser, iOS outside the home screen). */
  | 'unsupported'
  /** The human (or the browser) blocked notifications for this site. */
  | 'denied'
  | 'off'
  | 'on';

const keyAnswer = z.object({ publicKey: z.string().regex(/^[A-Za-z0-9_-]+$/) });
const subscribedAnswer = z.object({ endpoint: z.string() });
const removedAnswer = z.object({ removed: z.literal(true) });

export function pushSupported(): boolean {
  return typeof window !== 'undefined' && 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window && window.isSecureContext;
}

/** The VAPID key as PushManager wants it (base64url → bytes). */
export function keyBytes(base64url: string): Uint8Array<ArrayBuffer> {
  const base64 = base64url.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (base64url.length % 4)) % 4);
  const binary = atob(base64);
  const bytes = new Uint8Array(new ArrayBuffer(binary.length));
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

async function registration(): Promise<ServiceWorkerRegistration> {
  return navigator.serviceWorker.ready;
}

export async function pushStatus(): Promise<PushStatus> {
  if (!pushSupported()) return 'unsupported';
  if (Notification.permission === 'denied') return 'denied';
  const subscription = await (await registration()).pushManager.getSubscription();
  return subscription && Notification.permission === 'granted' ? 'on' : 'off';
}

/** Asks, subscribes and tells the server; the status it ends in. Throws with a message fit to show. */
export async function turnOnPush(): Promise<PushStatus> {
  if (!pushSupported()) return 'unsupported';
  const permission = await Notification.requestPermission();
  if (permission === 'denied') return 'denied';
  if (permission !== 'granted') return 'off';
  const { publicKey } = await api('/api/push/key', keyAnswer);
  const manager = (await registration()).pushManager;
  let subscription = await manager.getSubscription();
  // A subscription made for another server key (a new data directory) cannot be used.
  const existingKey = subscription?.options.applicationServerKey;
  if (subscription && existingKey && !sameBytes(new Uint8Array(existingKey), keyBytes(publicKey))) {
    await subscription.unsubscribe();
    subscription = null;
  }
  subscription ??= await manager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(publicKey) });
  await api('/api/push/subscriptions', subscribedAnswer, { method: 'POST', body: subscription.toJSON() });
  return 'on';
}

export async function turnOffPush(): Promise<PushStatus> {
  if (!pushSupported()) return 'unsupported';
  const subscription = await (await registration()).pushManager.getSubscription();
  if (subscription) {
    try {
      await api('/api/push/subscriptions', removedAnswer, { method: 'DELETE', body: { endpoint: subscription.endpoint } });
    } catch (error) {
      // Already gone on the server (404: a 410 from the push service removed it): fine.
      if (!(error instanceof ApiError && error.status === 404)) throw error;
    }
    await subscription.unsubscribe();
  }
  return Notification.permission === 'denied' ? 'denied' : 'off';
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
