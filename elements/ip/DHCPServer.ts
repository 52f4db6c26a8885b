import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';
import { etherAddress, ipv4Address, ipv4Prefix, orEmpty } from '../../src/graph/types.js';
import { parseIPv4, parseMac } from '../../src/util/address.js';

export const DHCPServer = defineElement({
  name: 'DHCPServer',
  group: 'ip',
  summary: 'A DHCPv4 server (RFC 2131/2132) for one subnet: a pool, static bindings by MAC, leases that expire.',
  doc: `Input 0 takes Ethernet frames from the clients' segment (give it those a classifier picked out as
\`udp dst port 67\`, or everything: frames that are not DHCP requests are dropped and counted in
\`drops_not_dhcp\`); output 0 sends the answers as Ethernet frames from \`mac\` and \`address\` (UDP port 67 to
68). Click has no DHCP server; this one follows RFC 2131 for a server on the clients' own segment.

- **DISCOVER** gets an OFFER of, in order: the client's static binding (\`static\`, by MAC); the address it
  holds or last held (a lease, live or expired, not since given to another); the address it asks for
  (option 50) when free in the pool; the lowest free pool address (\`poolStart\` to \`poolEnd\`; never the
  server's own address, a static binding's or a declined one). The offer holds the address
  \`offerTime\` seconds. No free address: \`drops_pool_exhausted\`.
- **REQUEST** naming this server (option 54) for the offered address, or without a server identifier
  (INIT-REBOOT with option 50, RENEWING/REBINDING with \`ciaddr\`) for the client's own lease or binding, gets
  an **ACK** and a lease of \`leaseTime\` seconds (T1 = 1/2, T2 = 7/8 of it); one naming another server
  ends this server's offer (counted in \`other_server\`); any other (an address not the client's, or
  outside the subnet) gets a **NAK**.
- **RELEASE** frees the client's lease at once; **DECLINE** (the client found the address in use) takes
  the address out of the pool for \`leaseTime\` seconds; **INFORM** gets an ACK with the options only.

Replies carry options 53 (type), 54 (server identifier: \`address\`), 51, 58 and 59 (lease, renewal and
rebinding times), 1 (the subnet mask, from \`address\`'s prefix length), 3 (\`router\`, when set) and 6
(\`dns\`, when set). They go as RFC 2131 section 4.1 says: to \`giaddr\` (port 67) for a relayed request;
to \`ciaddr\` when the client has one; broadcast for a NAK or when the client sets the broadcast flag;
otherwise to the offered address at the client's MAC. Leases are keyed by the client's hardware
address (option 61 is not used).

Leases expire on the engine's clock. The table has room for every pool address and static binding,
allocated when the graph is loaded. The \`leases\` handler lists them, one per line: address, MAC,
state (\`offered\`, \`bound\`, \`declined\`, \`expired\`, \`static\`) and seconds left, by the engine's clock as the
server last saw it (at its last message, and at least once a second).

Malformed requests are dropped and counted in \`drops_malformed\`: frames too short for the IPv4, UDP
and BOOTP headers, a bad IPv4 header length, a UDP length past the frame, an op other than
BOOTREQUEST, a hardware type or length other than Ethernet's, a missing magic cookie, options that
run past the end, no message type (option 53) or an unknown one.`,
  inputs: '1',
  outputs: '1',
  processing: 'h/h',
  config: Type.Object(
    {
      address: ipv4Prefix("The server's address on the subnet and the subnet's prefix length, like '192.168.56.1/24' (source, server identifier, subnet mask)."),
      mac: etherAddress("The server's MAC address (the answers' source)."),
      poolStart: ipv4Address('The first address of the pool.'),
      poolEnd: ipv4Address('The last address of the pool (at most 65536 addresses).'),
      router: Type.Optional(orEmpty(ipv4Address('The default router (option 3).'), "The default router (option 3); '' for none.")),
      dns: Type.Optional(Type.Array(ipv4Address('A DNS server.'), { maxItems: 8, default: [], description: 'DNS servers (option 6).' })),
      leaseTime: Type.Optional(Type.Integer({ minimum: 10, maximum: 31536000, default: 3600, description: 'Lease time in seconds (option 51).' })),
      offerTime: Type.Optional(Type.Integer({ minimum: 1, maximum: 3600, default: 30, description: 'Seconds an offered address is held for the client.' })),
      static: Type.Optional(
        Type.Array(Type.Object({ mac: etherAddress('The client MAC address.'), ip: ipv4Address('The address it always gets.') }, { additionalProperties: false }), {
          maxItems: 4096,
          default: [],
          description: 'Static bindings: { mac, ip } each.',
        }),
      ),
    },
    { additionalProperties: false },
  ),
  counters: {
    discovers: 'DHCPDISCOVER messages received',
    offers: 'DHCPOFFER messages sent',
    requests: 'DHCPREQUEST messages received',
    acks: 'DHCPACK messages sent (to requests and informs)',
    naks: 'DHCPNAK messages sent',
    releases: 'DHCPRELEASE messages that freed a lease',
    declines: 'DHCPDECLINE messages that took an address out of the pool',
    informs: 'DHCPINFORM messages received',
    other_server: 'requests that chose another server (this server withdrew its offer)',
    drops_not_dhcp: 'frames dropped because they are not IPv4 UDP to port 67',
    drops_malformed: 'DHCP requests dropped because they are malformed (see the documentation)',
    drops_pool_exhausted: 'DHCPDISCOVER messages dropped because no address was free',
    drops_ignored: 'messages dropped without an answer: a release or decline for an address the client does not hold, a reply type sent by a client',
    drops_pool_empty: 'answers dropped (not made) because the packet pool was empty',
  },
  handlers: {
    leases: { doc: 'the lease table, one line per address: IP MAC state seconds-left', read: true },
  },
  check: (c) => {
    const [addrText, lenText] = c.address.split('/');
    const len = lenText === undefined ? 32 : Number(lenText);
    if (len > 30) return `address '${c.address}': give the subnet's prefix length (at most /30), like '192.168.56.1/24'`;
    const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
    const server = parseIPv4(addrText)!;
    const net = (server & mask) >>> 0;
    const inSubnet = (ip: number) => ((ip & mask) >>> 0) === net && ip !== net && ip !== (net | ~mask) >>> 0;
    const start = parseIPv4(c.poolStart)!;
    const end = parseIPv4(c.poolEnd)!;
    if (start > end) return `poolStart ${c.poolStart} is after poolEnd ${c.poolEnd}: swap them`;
    if (end - start + 1 > 65536) return `the pool ${c.poolStart}-${c.poolEnd} holds ${end - start + 1} addresses; at most 65536`;
    if (!inSubnet(start) || !inSubnet(end)) return `the pool ${c.poolStart}-${c.poolEnd} is not inside the subnet of '${c.address}' (without its network and broadcast addresses)`;
    if (c.router && !inSubnet(parseIPv4(c.router)!)) return `router ${c.router} is not inside the subnet of '${c.address}'`;
    const macs = new Set<string>();
    const ips = new Set<number>();
    for (const [i, s] of (c.static ?? []).entries()) {
      const mac = parseMac(s.mac)!.join(':');
      const ip = parseIPv4(s.ip)!;
      if (!inSubnet(ip)) return `static[${i}]: ${s.ip} is not inside the subnet of '${c.address}'`;
      if (ip === server) return `static[${i}]: ${s.ip} is the server's own address`;
      if (macs.has(mac)) return `static[${i}]: MAC ${s.mac} is bound twice: keep one binding per MAC`;
      if (ips.has(ip)) return `static[${i}]: ${s.ip} is bound twice: give each MAC its own address`;
      macs.add(mac);
      ips.add(ip);
    }
    return undefined;
  },
  examples: [
    "FromDevice({ device: 'veth0' }).to(IPClassifier({ patterns: ['udp dst port 67'] })).to(DHCPServer({ address: '192.168.56.1/24', mac: '02:00:00:00:56:01', poolStart: '192.168.56.100', poolEnd: '192.168.56.199', router: '192.168.56.1', dns: ['192.168.56.1'] }, 'dhcp')).to(ToDevice({ device: 'veth0' }))",
    'pktgraph read dhcp.leases',
  ],
});
