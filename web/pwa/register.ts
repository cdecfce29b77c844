/**
 * Registers the service worker (`/sw.js`, scope `/`) in production builds. The Vite dev
 * server has no worker: hot reload and a cached shell do not mix. A failure is logged and
 * changes nothing else: the app works without a worker, only not offline.
 */
export function registerServiceWorker(): void {
  if (!import.meta.env.PROD || !('serviceWorker' in navigator)) return;
  const register = () => {
    navigator.serviceWorker.register('/sw.js', { scope: '/', updateViaCache: 'none' }).catch((error: unknown) => {
      console.warn('Gatehouse: the service worker could not be registered, so the app will not open offline.', error);
    });
  };
  if (document.readyState === 'complete') register();
  else window.addEventListener('load', register, { once: true });
}
