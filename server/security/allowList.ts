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

/** The first non-internal IPv4 address: what a phone on the LAN can reach. */
export function lanAddress(addresses: string[] = machineAddresses()): string | undefined {
  return addresses.find((a) => isIP(a) === 4 && !a.startsWith('127.'));
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
  for (const name of names) {
    hosts.add(`${name}:${input.port}`);
    if (input.port === 80) hosts.add(name);
    origins.add(input.port === 80 ? `http://${name}` : `http://${name}:${input.port}`);
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
