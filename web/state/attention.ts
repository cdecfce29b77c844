/**
 * Getting a person's attention when a request arrives while the tab is hidden: a count
 * in the tab title, a desktop notification (permission asked on a click, never on load)
 * and an optional short beep. Cleared when the tab becomes visible again.
 */
import type { PermissionRequestEvent } from '../../protocol/index.ts';
import { visibleText } from '../../protocol/index.ts';

const BASE_TITLE = 'Gatehouse';
const SOUND_KEY = 'gatehouse.sound';
let unseen = 0;

export function soundEnabled(): boolean {
  try {
    return localStorage.getItem(SOUND_KEY) === 'on';
  } catch {
    return false;
  }
}

export function setSoundEnabled(on: boolean): void {
  try {
    localStorage.setItem(SOUND_KEY, on ? 'on' : 'off');
  } catch {
    // private mode: the toggle just does not persist
  }
}

export function notificationsSupported(): boolean {
  return typeof window !== 'undefined' && 'Notification' in window;
}

/** Must run inside a user gesture (a click), or browsers refuse. */
export async function askNotificationPermission(): Promise<NotificationPermission | 'unsupported'> {
  if (!notificationsSupported()) return 'unsupported';
  return Notification.requestPermission();
}

function beep(): void {
  try {
    const ctx = new AudioContext();
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.frequency.value = 880;
    gain.gain.value = 0.05;
    osc.connect(gain).connect(ctx.destination);
    osc.start();
    osc.stop(ctx.currentTime + 0.15);
    osc.onended = () => void ctx.close();
  } catch {
    // no audio: the title and the notification remain
  }
}

function showTitle(): void {
  document.title = unseen > 0 ? `(${unseen}) ${BASE_TITLE}` : BASE_TITLE;
}

export function requestArrived(request: PermissionRequestEvent): void {
  if (document.visibilityState !== 'hidden') return;
  unseen += 1;
  showTitle();
  if (notificationsSupported() && Notification.permission === 'granted') {
    try {
      const n = new Notification(`Permission request: ${visibleText(request.toolName).text}`, {
        body: summarise(request),
        tag: request.id,
      });
      n.onclick = () => {
        window.focus();
        n.close();
      };
    } catch {
      // some platforms only allow notifications from a service worker
    }
  }
  if (soundEnabled()) beep();
}

/** The notification's body: the command or path, hidden characters escaped (docs/ui.md). */
function summarise(request: PermissionRequestEvent): string {
  const command = request.input.command;
  const path = request.input.file_path;
  const raw = typeof command === 'string' ? command : typeof path === 'string' ? path : JSON.stringify(request.input);
  const shown = visibleText(raw);
  return `${shown.hidden ? '⚠ hidden characters: ' : ''}${shown.text.slice(0, 200)}`;
}

export function pageVisible(): void {
  unseen = 0;
  showTitle();
}
