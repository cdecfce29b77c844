/**
 * Entry point: drops a leftover `?token=` from the address bar, registers the service
 * worker (production builds), optionally attaches the
 * Stately inspector (development builds, `?inspect=1`), and mounts the app with its
 * actors provided once at the root.
 */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './components/App.tsx';
import { ErrorBoundary } from './components/ErrorBoundary.tsx';
import { ChatContext } from './state/chatContext.ts';
import { ConnectionContext } from './state/connection.ts';
import { registerServiceWorker } from './pwa/register.ts';
import { takeTokenFromUrl } from './state/token.ts';
import './styles.css';

takeTokenFromUrl();
registerServiceWorker();

async function loadInspector() {
  // Dev only: the whole branch (and the inspector's chunk) is dropped from production builds.
  if (import.meta.env.DEV && new URLSearchParams(window.location.search).get('inspect') === '1') {
    const { createBrowserInspector } = await import('@statelyai/inspect');
    return createBrowserInspector().inspect;
  }
  return undefined;
}

const inspect = await loadInspector();
const root = document.getElementById('root');
if (!root) throw new Error('#root is missing from index.html');

createRoot(root).render(
  <StrictMode>
    <ErrorBoundary label="Gatehouse">
      <ConnectionContext.Provider
        options={{
          input: {
            now: () => Date.now(),
            random: () => Math.random(),
            visible: document.visibilityState !== 'hidden',
            online: navigator.onLine,
          },
          ...(inspect ? { inspect } : {}),
        }}
      >
        <ChatContext.Provider options={inspect ? { inspect } : {}}>
          <App />
        </ChatContext.Provider>
      </ConnectionContext.Provider>
    </ErrorBoundary>
  </StrictMode>,
);
