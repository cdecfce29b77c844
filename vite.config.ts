// Vite builds the web UI: root web/, output dist/ at the repository root (the server
// serves it at /). In development the dev server proxies /ws and /api to a running
// Gatehouse server (GATEHOUSE_URL, default http://127.0.0.1:3000), rewriting Origin so
// the server's origin check accepts the proxied calls. The build also writes the service
// worker, dist/sw.js (scripts/lib/serviceWorkerPlugin.ts), and copies web/public/
// (manifest, icons) as they are.
import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';
import { defineConfig, type ProxyOptions } from 'vite';
import { serviceWorkerPlugin } from './scripts/lib/serviceWorkerPlugin.ts';

const target = process.env.GATEHOUSE_URL ?? 'http://127.0.0.1:3000';
const rewriteOrigin: ProxyOptions['configure'] = (proxy) => {
  proxy.on('proxyReq', (req) => req.setHeader('origin', target));
  proxy.on('proxyReqWs', (req) => req.setHeader('origin', target));
};

export default defineConfig({
  root: fileURLToPath(new URL('./web', import.meta.url)),
  plugins: [react(), serviceWorkerPlugin({ entry: fileURLToPath(new URL('./web/pwa/sw.ts', import.meta.url)) })],
  build: {
    outDir: fileURLToPath(new URL('./dist', import.meta.url)),
    emptyOutDir: true,
    sourcemap: false,
    target: 'es2022',
  },
  server: {
    proxy: {
      '/ws': { target, ws: true, changeOrigin: true, configure: rewriteOrigin },
      '/api': { target, changeOrigin: true, configure: rewriteOrigin },
    },
  },
});
