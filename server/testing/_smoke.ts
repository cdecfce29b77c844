import { startServerProcess } from './index.ts';
const s = await startServerProcess();
try {
  const r = await s.api('/api/permission-requests', { method: 'POST', body: JSON.stringify({ toolName: 'Bash', input: { big: 'x'.repeat(1 << 20) } }), headers: { 'content-type': 'application/json' } });
  console.log(r.status, r.text);
} catch (e) { console.log('ERR', e); }
try {
  const r = await s.api('/api/permission-requests', { method: 'POST', body: JSON.stringify({ toolName: 'Bash', input: { big: 'x'.repeat(1 << 20) } }), headers: { 'content-type': 'application/json' } });
  console.log(r.status, r.text);
} catch (e) { console.log('ERR2', (e as Error).message); }
await s.stop();
console.log(s.stderr());
