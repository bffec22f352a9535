// Who a network client is, for its budgets (docs/design.md §Budgets): its address as one spelling, the key
// its budgets count under, and, behind a trusted proxy, the address the proxy says it serves.
import { BlockList, isIPv4, isIPv6 } from "node:net";

/** A set of addresses and networks (`192.0.2.7`, `10.0.0.0/8`, `2001:db8::/32`). */
export interface AddressSet { has(ip: string): boolean }

/** The addresses and CIDR networks of `list` (each checked beforehand: config-schema.ts). */
export function addressSet(list: readonly string[]): AddressSet {
  const block = new BlockList();
  for (const item of list) {
    const [address, bits] = item.split("/") as [string, string | undefined];
    const type = isIPv6(address) ? "ipv6" : "ipv4";
    if (bits === undefined) block.addAddress(address, type);
    else block.addSubnet(address, Number(bits), type);
  }
  return {
    has(ip) {
      const address = normaliseIp(ip);
      if (isIPv4(address)) return block.check(address, "ipv4");
      return isIPv6(address) && block.check(address, "ipv6");
    },
  };
}

/** One spelling of an address: IPv4-mapped IPv6 as plain IPv4, lower case. */
export function normaliseIp(ip: string | undefined): string {
  return (ip ?? "").replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, "").toLowerCase();
}

/** The eight 16-bit groups of an IPv6 address (an embedded IPv4 tail included); null when it is not one. */
function ipv6Groups(ip: string): number[] | null {
  if (!isIPv6(ip)) return null;
  let text = ip.replace(/%.*$/, "");
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split("::") as [string, string | undefined];
  const part = (s: string) => (s ? s.split(":").map((g) => parseInt(g, 16)) : []);
  const left = part(head);
  const right = tail === undefined ? [] : part(tail);
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}

/**
 * The key a client's budgets count under: an IPv4 address itself, an IPv6 address by its /64 (RFC 4291
 * §2.5.4: one site's subnet; a host picks any address in it, RFC 8981).
 */
export function clientKey(ip: string): string {
  const address = normaliseIp(ip);
  if (isIPv4(address)) return address;
  const groups = ipv6Groups(address);
  if (!groups) return address;
  return `${groups.slice(0, 4).map((g) => g.toString(16)).join(":")}::/64`;
}

/**
 * The client of a request from `peer`: when the peer is a trusted proxy, the right-most address of
 * X-Forwarded-For that is not itself a trusted proxy (what the nearest proxy saw; the entries left of it are
 * the client's own word); otherwise, or when that entry is not an address, the peer.
 */
export function forwardedClient(peer: string, forwardedFor: string | undefined, trusted: AddressSet): string {
  const address = normaliseIp(peer);
  if (!trusted.has(address) || !forwardedFor) return address;
  const hops = forwardedFor.split(",").map((h) => normaliseIp(h.trim().replace(/^\[([^\]]+)\](?::\d+)?$/, "$1")));
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!;
    if (!isIPv4(hop) && !isIPv6(hop)) return address;
    if (!trusted.has(hop)) return hop;
  }
  return address;
}
