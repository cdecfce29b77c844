/**
 * Devices (`#/devices`, docs/ui.md "Devices"): every browser that holds a session (name,
 * when it was last seen, which one is this one), each of which may be ended after a
 * confirmation; "Pair a device" makes a one-time link (`POST /api/pairings`) and shows it
 * with its QR code for a phone's camera; and this device's notifications (Web Push) on
 * or off. Ending this very device closes its socket and shows the Not authorised screen.
 */
import QRCode from 'qrcode';
import { useCallback, useEffect, useState } from 'react';
import { deviceList, pairingCreated, revokedAnswer, type DeviceList, type PairingCreated } from '../../protocol/index.ts';
import { pushStatus, turnOffPush, turnOnPush, type PushStatus } from '../pwa/pushSubscription.ts';
import { api, errorText } from '../state/api.ts';
import { useNow } from '../state/useNow.ts';
import { Visible } from './Visible.tsx';

type Device = DeviceList['devices'][number];

function ago(then: number, now: number): string {
  const s = Math.max(0, Math.round((now - then) / 1000));
  if (s < 60) return 'just now';
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return new Date(then).toLocaleDateString();
}

function DeviceRow({ device, onEnded }: { device: Device; onEnded: (id: string) => void }) {
  const now = useNow(30_000);
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const end = () => {
    setBusy(true);
    setError(null);
    api(`/api/devices/${encodeURIComponent(device.id)}`, revokedAnswer, { method: 'DELETE' })
      .then(() => onEnded(device.id))
      .catch((e: unknown) => setError(errorText(e)))
      .finally(() => setBusy(false));
  };
  return (
    <li className="device" data-testid="device" data-device-id={device.id}>
      <span className="device-name">
        <Visible text={device.name} />
      </span>
      {device.current && <span className="badge">this device</span>}
      {device.clients.length > 0 && <span className="muted small"> · connected</span>}
      <span className="muted small">
        {' '}
        · last seen <time dateTime={new Date(device.lastSeenAt).toISOString()}>{ago(device.lastSeenAt, now)}</time>
      </span>
      {confirming ? (
        <fieldset className="confirm">
          <legend>{device.current ? 'End this device? This page will be signed out.' : 'End this device? It will be signed out at once.'}</legend>
          <button type="button" className="danger" onClick={end} disabled={busy}>
            {busy ? 'Ending…' : 'End it'}
          </button>
          <button type="button" onClick={() => setConfirming(false)} disabled={busy}>
            Cancel
          </button>
        </fieldset>
      ) : (
        <button type="button" onClick={() => setConfirming(true)} aria-label={`End ${device.name}${device.current ? ' (this device)' : ''}`}>
          End…
        </button>
      )}
      {error && (
        <p className="phase error" role="alert">
          Not ended: {error}
        </p>
      )}
    </li>
  );
}

function PairDevice() {
  const [link, setLink] = useState<(PairingCreated & { qr: string }) | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const now = useNow(1000);
  const expired = link !== null && now >= link.expiresAt;
  const make = () => {
    setBusy(true);
    setError(null);
    api('/api/pairings', pairingCreated, { method: 'POST' })
      .then(async (made) => {
        // Drawn here, in the page: the link never goes to a third party to be drawn.
        const svg = await QRCode.toString(made.url, { type: 'svg', margin: 2, errorCorrectionLevel: 'M' });
        setLink({ ...made, qr: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}` });
      })
      .catch((e: unknown) => setError(errorText(e)))
      .finally(() => setBusy(false));
  };
  return (
    <section aria-labelledby="pair-title" className="pair">
      <h2 id="pair-title">Pair a device</h2>
      <p className="muted small">
        A one-time link that signs another browser (a phone) in as a new device: it works once, for 10 minutes. The phone must reach this server (run it with
        --host 0.0.0.0 on your network, behind HTTPS for notifications).
      </p>
      <button type="button" onClick={make} disabled={busy}>
        {busy ? 'Making a link…' : link ? 'Make a new link' : 'Pair a device'}
      </button>
      {error && (
        <p className="phase error" role="alert">
          No link: {error}
        </p>
      )}
      {link && (
        <figure className="pair-link" data-testid="pairing">
          <img src={link.qr} alt="QR code of the one-time pairing link" width={220} height={220} data-testid="pairing-qr" />
          <figcaption>
            <code className="mono code" data-testid="pairing-url">
              {link.url}
            </code>
            <span className="muted small">
              {' '}
              {expired ? 'Expired: make a new link.' : `Valid once, until ${new Date(link.expiresAt).toLocaleTimeString()}.`}
            </span>
          </figcaption>
        </figure>
      )}
    </section>
  );
}

const PUSH_TEXT: Record<PushStatus, string> = {
  unsupported: 'This browser cannot receive notifications from this page (it needs HTTPS, or localhost, and on iPhone the app added to the home screen).',
  denied: 'Notifications are blocked for this site: allow them in the browser’s site settings.',
  off: 'Off: this device is not told when a request waits.',
  on: 'On: this device gets a notification when a request waits and no open screen has it.',
};

function PushToggle() {
  const [status, setStatus] = useState<PushStatus | 'loading'>('loading');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    pushStatus()
      .then((s) => live && setStatus(s))
      .catch(() => live && setStatus('unsupported'));
    return () => {
      live = false;
    };
  }, []);
  const run = (action: () => Promise<PushStatus>) => {
    setBusy(true);
    setError(null);
    action()
      .then(setStatus)
      .catch((e: unknown) => setError(errorText(e)))
      .finally(() => setBusy(false));
  };
  return (
    <section aria-labelledby="push-title" className="push-toggle">
      <h2 id="push-title">Notifications on this device</h2>
      <p data-testid="push-status">{status === 'loading' ? 'Checking…' : PUSH_TEXT[status]}</p>
      {status === 'off' && (
        <button type="button" onClick={() => run(turnOnPush)} disabled={busy}>
          {busy ? 'Turning on…' : 'Turn on notifications'}
        </button>
      )}
      {status === 'on' && (
        <button type="button" onClick={() => run(turnOffPush)} disabled={busy}>
          {busy ? 'Turning off…' : 'Turn off notifications'}
        </button>
      )}
      {error && (
        <p className="phase error" role="alert">
          Notifications: {error}
        </p>
      )}
    </section>
  );
}

export function DevicesView() {
  const [devices, setDevices] = useState<Device[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(() => {
    api('/api/devices', deviceList)
      .then((r) => {
        setDevices(r.devices);
        setError(null);
      })
      .catch((e: unknown) => setError(errorText(e)));
  }, []);
  useEffect(load, [load]);
  const onEnded = (id: string) => {
    const self = devices?.find((d) => d.id === id)?.current;
    // Ending this very device: reload, and the page shows Not authorised (UI-33).
    if (self) window.location.reload();
    else load();
  };
  return (
    <div className="devices-view">
      <section aria-labelledby="devices-title">
        <h2 id="devices-title">Devices</h2>
        {error && (
          <p className="phase error" role="alert">
            Devices unavailable: {error}
          </p>
        )}
        {devices === null ? (
          !error && <p className="muted">Loading…</p>
        ) : devices.length === 0 ? (
          <p className="empty">No devices: this page uses the owner token itself.</p>
        ) : (
          <ul className="device-list" aria-label="Devices">
            {devices.map((d) => (
              <DeviceRow key={d.id} device={d} onEnded={onEnded} />
            ))}
          </ul>
        )}
        <button type="button" className="link" onClick={load}>
          Refresh
        </button>
      </section>
      <PairDevice />
      <PushToggle />
    </div>
  );
}
