/**
 * The LAN address the ready line and the pairing link name when the server answers on
 * every interface (`--host 0.0.0.0`), and the origins of a TLS server.
 */
import { describe, expect, it } from 'vitest';
import { buildAllowList, lanAddress } from './allowList.ts';
import { pairingHost } from './pairing.ts';

describe('LAN address', () => {
  it('HUM-4: a home or office LAN address wins over a container bridge, a public address, link-local and loopback', () => {
    expect(lanAddress(['127.0.0.1', '::1', '172.17.0.1', '192.168.1.20', '10.0.0.5'])).toBe('192.168.1.20');
    expect(lanAddress(['127.0.0.1', '172.17.0.1', '10.8.0.3'])).toBe('10.8.0.3');
    expect(lanAddress(['169.254.10.1', '172.17.0.1'])).toBe('172.17.0.1');
    expect(lanAddress(['203.0.113.7', '172.18.0.1'])).toBe('172.18.0.1');
    expect(lanAddress(['127.0.0.1', '169.254.1.1', 'fd00::1'])).toBeUndefined();
    // Of equals, the first the system lists.
    expect(lanAddress(['192.168.1.20', '192.168.50.2'])).toBe('192.168.1.20');
  });

  it('HUM-4: bound to 0.0.0.0 the pairing link asked for on localhost names the LAN address and port; bound to loopback it stays', () => {
    const lan = buildAllowList({
      bindHost: '0.0.0.0',
      port: 3000,
      extraOrigins: [],
      extraHosts: [],
      interfaceAddresses: ['127.0.0.1', '172.17.0.1', '192.168.1.20'],
      hostName: 'devbox',
    });
    expect(lan.publicHost).toBe('192.168.1.20');
    expect(pairingHost('localhost:3000', lan, 3000)).toBe('192.168.1.20:3000');
    expect(pairingHost('127.0.0.1:3000', lan, 3000)).toBe('192.168.1.20:3000');
    const local = buildAllowList({ bindHost: '127.0.0.1', port: 3000, extraOrigins: [], extraHosts: [] });
    expect(pairingHost('127.0.0.1:3000', local, 3000)).toBe('127.0.0.1:3000');
  });

  it('HUM-5: a TLS server allows its own https origins, not the http ones', () => {
    const list = buildAllowList({ bindHost: '127.0.0.1', port: 8443, extraOrigins: [], extraHosts: [], scheme: 'https' });
    expect(list.origins.has('https://127.0.0.1:8443')).toBe(true);
    expect(list.origins.has('http://127.0.0.1:8443')).toBe(false);
    const on443 = buildAllowList({ bindHost: '127.0.0.1', port: 443, extraOrigins: [], extraHosts: [], scheme: 'https' });
    expect(on443.origins.has('https://localhost')).toBe(true);
    expect(on443.hosts.has('localhost')).toBe(true);
  });
});
