/**
 * The page: header, view navigation (hash routes #/queue, #/chat/ID, #/rules, #/audit, #/devices),
 * and the wiring between the root actors and the browser (socket start, visibility,
 * network, chat stream, attention). Each view sits in its own error boundary.
 */
import { useCallback, useEffect, useState } from 'react';
import { pageVisible, requestArrived } from '../state/attention.ts';
import { ChatContext } from '../state/chatContext.ts';
import { ConnectionContext } from '../state/connection.ts';
import { KeepLastQueue } from '../pwa/offlineQueue.ts';
import { keepOutbox, loadOutbox } from '../pwa/outboxStore.ts';
import { fetchUnseenOutcome } from '../state/unseenOutcome.ts';
import { AccessGate } from './AccessScreen.tsx';
import { AuditView } from './AuditView.tsx';
import { ChatView } from './ChatView.tsx';
import { DevicesView } from './DevicesView.tsx';
import { ErrorBoundary } from './ErrorBoundary.tsx';
import { Header } from './Header.tsx';
import { HelpDialog } from './HelpDialog.tsx';
import { QueueView } from './QueueView.tsx';
import { RulesView } from './RulesView.tsx';

type Route = { view: 'queue' } | { view: 'chat'; sessionId: string | null } | { view: 'rules' } | { view: 'audit' } | { view: 'devices' };

function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/');
  switch (parts[0]) {
    case 'chat':
      return { view: 'chat', sessionId: parts[1] ? decodeURIComponent(parts[1]) : null };
    case 'rules':
      return { view: 'rules' };
    case 'audit':
      return { view: 'audit' };
    case 'devices':
      return { view: 'devices' };
    default:
      return { view: 'queue' };
  }
}

function useRoute(): Route {
  const [hash, setHash] = useState(() => window.location.hash);
  useEffect(() => {
    const on = () => setHash(window.location.hash);
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return parseRoute(hash);
}

/** Binds the actors to the browser: started here, after every listener is in place. */
function Wiring() {
  const connection = ConnectionContext.useActorRef();
  const chat = ChatContext.useActorRef();
  useEffect(() => {
    const subscriptions = [
      connection.on('chat.event', (e) => chat.send({ type: 'stream', event: e.event })),
      connection.on('chat.reload', () => chat.send({ type: 'reset' })),
      connection.on('request.arrived', (e) => requestArrived(e.request)),
      connection.on('request.unseen', (e) => fetchUnseenOutcome(connection, e.requestId)),
    ];
    const onVisibility = () => {
      const visible = document.visibilityState !== 'hidden';
      connection.send({ type: 'connection.visibility', visible });
      if (visible) pageVisible();
    };
    const onOnline = () => connection.send({ type: 'connection.online' });
    const onOffline = () => connection.send({ type: 'connection.offline' });
    document.addEventListener('visibilitychange', onVisibility);
    window.addEventListener('online', onOnline);
    window.addEventListener('offline', onOffline);
    // The outbox kept across a reload goes back in before the first connection (its flush
    // sends it once caught up); only then is it kept again, so the empty start never
    // overwrites it. A store that does not answer within a second is skipped.
    let active = true;
    let stopKeeping = () => {};
    void Promise.race([loadOutbox(), new Promise<[]>((resolve) => setTimeout(() => resolve([]), 1000))]).then((entries) => {
      if (!active) return;
      if (entries.length > 0) connection.send({ type: 'queue.restore', entries });
      stopKeeping = keepOutbox(connection);
      connection.send({ type: 'connection.start' });
    });
    return () => {
      active = false;
      stopKeeping();
      for (const s of subscriptions) s.unsubscribe();
      document.removeEventListener('visibilitychange', onVisibility);
      window.removeEventListener('online', onOnline);
      window.removeEventListener('offline', onOffline);
    };
  }, [connection, chat]);
  return null;
}

function QueueTabLabel() {
  const count = ConnectionContext.useSelector((s) => s.context.queue.order.length);
  return (
    <>
      Queue
      {count > 0 && (
        <span className="pill" aria-label={`${count} waiting`}>
          {count}
        </span>
      )}
    </>
  );
}

export function App() {
  const route = useRoute();
  const [help, setHelp] = useState(false);
  const openHelp = useCallback(() => setHelp(true), []);
  const tabs: Array<[Route['view'], string]> = [
    ['queue', '#/queue'],
    ['chat', '#/chat'],
    ['rules', '#/rules'],
    ['audit', '#/audit'],
    ['devices', '#/devices'],
  ];
  const labels: Record<Exclude<Route['view'], 'queue'>, string> = { chat: 'Chat', rules: 'Rules', audit: 'Audit', devices: 'Devices' };
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <Wiring />
      <KeepLastQueue />
      <Header />
      <nav aria-label="Views" className="tabs">
        {tabs.map(([view, href]) => (
          <a key={view} href={href} aria-current={route.view === view ? 'page' : undefined}>
            {view === 'queue' ? <QueueTabLabel /> : labels[view]}
          </a>
        ))}
        <button type="button" className="link" onClick={openHelp} aria-haspopup="dialog">
          Help
        </button>
      </nav>
      <main id="main" tabIndex={-1}>
        <AccessGate>
          <ErrorBoundary label={route.view} key={route.view}>
            {route.view === 'queue' && <QueueView onHelp={openHelp} />}
            {route.view === 'chat' && (
              <ChatView sessionId={route.sessionId} onOpen={(id) => (window.location.hash = id ? `#/chat/${encodeURIComponent(id)}` : '#/chat')} />
            )}
            {route.view === 'rules' && <RulesView />}
            {route.view === 'audit' && <AuditView />}
            {route.view === 'devices' && <DevicesView />}
          </ErrorBoundary>
        </AccessGate>
      </main>
      <HelpDialog open={help} onClose={() => setHelp(false)} />
    </>
  );
}
