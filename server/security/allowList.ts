/**
 * Who may talk to this server by name (protocol-v1.md §2): the allowed `Origin` values and
 * `Host` header values. Defaults are the server's own names with its real port
 * (localhost, 127.0.0.1, [::1], the bind address, and, when bound to every interface,
 * the machine's addresses and host name), widened by --allowed-origins/--allowed-hosts.
 * The Host check stops DNS rebinding; the Origin check stops other pages (cookies and
 * SameSite ignore ports, so a page on localhost:OTHER is "same-site").
 */
import { hostname, networkInterfaces } from 'node:os';
import { isIP } from 'node:net';
import { isWildcardHost } from '../config.ts';

export type AllowListInput = {
  bindHost: string;
  port: number;
  extraOrigins: readonly string[];
  extraHosts: readonly string[];
  /** Addresses of this machine (for a wildcard bind); read from the OS when absent. */
  interfaceAddresses?: string[];
  hostName?: string;
  /** `https` when the server itself serves TLS (--tls-cert): its pages' origins are https. */
  scheme?: 'http' | 'https';
};

export type AllowList = {
  origins: Set<string>;
  hosts: Set<string>;
  /** A URL for the ready line: reachable from another device when bound to every interface. */
  publicHost: string;
};

function bracket(host: string): string {
  const bare = host.replace(/^\[|\]$/g, '');
  return isIP(bare) === 6 ? `[${bare}]` : bare;
}

export function machineAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const info of list ?? []) {
      // Link-local IPv6 needs a zone id, which no Host header or Origin carries.
      if (info.family === 'IPv6' && info.address.toLowerCase().startsWith('fe80')) continue;
      out.push(info.address);
    }
  }
  return out;
}

/** How likely an IPv4 address is the one a phone on the same Wi-Fi reaches: home and
 *  office LANs are 192.168/16, then 10/8; 172.16/12 comes last of the private ranges
 *  because container bridges (Docker's 172.17.0.1) live there. Loopback and link-local
 *  (169.254/16, no DHCP) never: undefined. */
function lanRank(address: string): number | undefined {
  if (isIP(address) !== 4) return undefined;
  const [a, b] = address.split('.').map(Number) as [number, number];
  if (a === 127 || (a === 169 && b === 254) || a === 0) return undefined;
  if (a === 192 && b === 168) return 0;
  if (a === 10) return 1;
  if (a === 172 && b >= 16 && b <= 31) return 2;
  return 3;
}

/** The machine's LAN address (HUM-4): the best ranked IPv4 address, the first of equals. */
export function lanAddress(addresses: string[] = machineAddresses()): string | undefined {
  let best: { address: string; rank: number } | undefined;
  for (const address of addresses) {
    const rank = lanRank(address);
    if (rank !== undefined && (best === undefined || rank < best.rank)) best = { address, rank };
  }
  return best?.address;
}

export function buildAllowList(input: AllowListInput): AllowList {
  const names = new Set<string>(['localhost', '127.0.0.1', '[::1]', bracket(input.bindHost).toLowerCase()]);
  let publicHost = bracket(input.bindHost);
  if (isWildcardHost(input.bindHost)) {
    const addresses = input.interfaceAddresses ?? machineAddresses();
    for (const address of addresses) names.add(bracket(address).toLowerCase());
    const host = (input.hostName ?? hostname()).toLowerCase();
    if (host) {
      names.add(host);
      names.add(`${host}.local`);
    }
    publicHost = lanAddress(addresses) ?? '127.0.0.1';
  }
  names.delete('0.0.0.0');
  names.delete('[::]');

  const hosts = new Set<string>();
  const origins = new Set<string>();
  const scheme = input.scheme ?? 'http';
  const defaultPort = scheme === 'https' ? 443 : 80;
  for (const name of names) {
    hosts.add(`${name}:${input.port}`);
    if (input.port === defaultPort) hosts.add(name);
    origins.add(input.port === defaultPort ? `${scheme}://${name}` : `${scheme}://${name}:${input.port}`);
  }
  for (const extra of input.extraHosts) {
    const value = extra.toLowerCase();
    hosts.add(value);
    // A name without a port is allowed with ours.
    if (!/:\d+$/.test(value)) hosts.add(`${value}:${input.port}`);
  }
  for (const origin of input.extraOrigins) origins.add(origin.toLowerCase().replace(/\/$/, ''));
  return { origins, hosts, publicHost };
}

export function isHostAllowed(list: AllowList, host: string | undefined): boolean {
  if (!host) return false;
  return list.hosts.has(host.trim().toLowerCase());
}

/** Absent Origin: allowed (not a browser, or a same-origin GET). Present: must match. */
export function isOriginAllowed(list: AllowList, origin: string | undefined): boolean {
  if (origin === undefined) return true;
  return list.origins.has(origin.trim().toLowerCase().replace(/\/$/, ''));
}
