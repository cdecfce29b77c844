/**
 * The header: connection state (connected / reconnecting in N s / offline + Retry), the
 * queue counts, latency, attention settings and the server's errors (never swallowed).
 */
import { useState } from 'react';
import { ConnectionContext, linkStatus } from '../state/connection.ts';
import { askNotificationPermission, notificationsSupported, setSoundEnabled, soundEnabled } from '../state/attention.ts';
import { useNow } from '../state/useNow.ts';
import { Visible } from './Visible.tsx';

function ConnectionStatus() {
  const actor = ConnectionContext.useActorRef();
  const status = ConnectionContext.useSelector(linkStatus);
  const retryAt = ConnectionContext.useSelector((s) => s.context.retryAt);
  const lastClose = ConnectionContext.useSelector((s) => s.context.lastClose);
  const attempt = ConnectionContext.useSelector((s) => s.context.attempt);
  const now = useNow(250);
  let text: string;
  switch (status) {
    case 'connected':
      text = 'Connected';
      break;
    case 'idle':
    case 'connecting':
      text = attempt > 0 ? 'Reconnecting…' : 'Connecting…';
      break;
    case 'syncing':
      text = 'Catching up…';
      break;
    case 'reconnecting': {
      const seconds = retryAt === null ? 0 : Math.max(0, Math.ceil((retryAt - now) / 1000));
      text = `Reconnecting in ${seconds} s`;
      break;
    }
    case 'offline':
      text = 'Offline';
      break;
    default: {
      const never: never = status;
      text = never;
    }
  }
  return (
    <div className={`status status-${status}`} role="status" aria-live="polite" data-testid="connection-status">
      <span className="dot" aria-hidden="true" />
      <span>{text}</span>
      {(status === 'offline' || status === 'reconnecting') && (
        <button type="button" onClick={() => actor.send({ type: 'connection.retry' })}>
          Retry
        </button>
      )}
      {status === 'offline' && lastClose && <span className="muted small">(last close {lastClose.code})</span>}
    </div>
  );
}

function Counts() {
  const pending = ConnectionContext.useSelector((s) => s.context.queue.counts.pending);
  const processing = ConnectionContext.useSelector((s) => s.context.queue.counts.processing);
  const latency = ConnectionContext.useSelector((s) => s.context.latencyMs);
  return (
    <div className="counts" aria-label="Queue status">
      <span data-testid="count-pending">Pending {pending}</span>
      <span data-testid="count-processing">Processing {processing}</span>
      <span data-testid="latency">{latency === null ? 'Latency –' : `Latency ${latency} ms`}</span>
    </div>
  );
}

function ServerErrors() {
  const actor = ConnectionContext.useActorRef();
  const errors = ConnectionContext.useSelector((s) => s.context.errors);
  if (errors.length === 0) return null;
  return (
    <div className="server-errors" role="alert">
      <ul>
        {errors.map((e) => (
          <li key={`${e.at}-${e.code}`}>
            <strong>
              <Visible text={e.code} />
            </strong>
            : <Visible text={e.message} />
          </li>
        ))}
      </ul>
      <button type="button" onClick={() => actor.send({ type: 'errors.dismiss' })}>
        Dismiss errors
      </button>
    </div>
  );
}

function Attention() {
  const [sound, setSound] = useState(soundEnabled);
  const [permission, setPermission] = useState<string>(() => (notificationsSupported() ? Notification.permission : 'unsupported'));
  return (
    <div className="attention">
      <label>
        <input
          type="checkbox"
          checked={sound}
          onChange={(e) => {
            setSound(e.target.checked);
            setSoundEnabled(e.target.checked);
          }}
        />{' '}
        Sound
      </label>
      {permission === 'default' && (
        <button type="button" onClick={() => void askNotificationPermission().then(setPermission)}>
          Enable notifications
        </button>
      )}
      {permission === 'denied' && <span className="muted small">Notifications blocked</span>}
    </div>
  );
}

export function Header() {
  return (
    <header className="header">
      <h1>Gatehouse</h1>
      <ConnectionStatus />
      <Counts />
      <Attention />
      <ServerErrors />
    </header>
  );
}
