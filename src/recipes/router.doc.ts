// ipRouter's documentation (see recipe.ts): printed by `pktgraph recipes ipRouter`. The field
// paths are checked against router.ts's types, so every field is documented here and only here.
import type { RecipeDoc } from './recipe.js';
import type { RouterDescription, RouterInterface, RouterNat, RouterNatForward, RouterOptions } from './router.js';

type FieldPath =
  | keyof RouterDescription
  | `interfaces[].${keyof RouterInterface}`
  | `nat.${keyof RouterNat}`
  | `nat.forwards[].${keyof RouterNatForward}`
  | `options.${keyof RouterOptions}`;

const fields: Record<FieldPath, string> = {
  interfaces: 'the interfaces, at least one: { device or port, ipv4?, ipv6?, mtu?, mac?, name? } each',
  'interfaces[].device': 'the network device, as `ip link` names it (this or port)',
  'interfaces[].port':
    "instead of a device, a port shared by virtual routers (`pktgraph port add`): { name, vlan?, guarantee?, limit?, weight? }; the interface claims its VLAN (default 0: untagged) and its MAC there (FromPort) and sends through the port's scheduler with that bandwidth share in bits/s (ToPort); its MAC defaults to one derived from the port and VLAN",
  'interfaces[].ipv4': "the router's IPv4 address and the connected network's prefix length, like '198.18.1.254/24'",
  'interfaces[].ipv6': "the router's IPv6 address and prefix length, like 'fd00:1::fe/64' (an interface needs ipv4, ipv6 or both)",
  'interfaces[].mtu': 'MTU of the link, bytes from the IP header on (default 1500; 68 to 65535, at least 1280 with IPv6)',
  'interfaces[].mac': "the router's MAC address on the link (default: the device's own, read from /sys/class/net)",
  'interfaces[].name': 'prefix of the interface\'s element names (default if0, if1, ...)',
  'interfaces[].method': "how the device's frames are received and sent: 'packet' (AF_PACKET, the default) or 'xdp' (AF_XDP, falling back to AF_PACKET where it cannot be used: FromDevice's documentation)",
  routes: "static routes: 'PREFIX via GATEWAY' or 'default via GATEWAY', IPv4 or IPv6; the gateway must lie in a connected network",
  nat: 'source NAT (masquerade) out of one interface, IPv4 only (IPv6 is routed without translation)',
  'nat.outside': "the outside interface: its name ('if1') or its device (required)",
  'nat.address': "the address inside hosts appear as (default: the outside interface's IPv4 address)",
  'nat.ports': "source ports (and ICMP echo identifiers) handed out, 'LOW-HIGH' (default '1024-65535')",
  'nat.forwards': 'port forwards from the NAT address to inside servers: { proto, port, to } each',
  'nat.forwards[].proto': "'tcp' or 'udp'",
  'nat.forwards[].port': 'the public port, on the NAT address',
  'nat.forwards[].to': "the inside server: 'ADDRESS:PORT', or 'ADDRESS' for the same port",
  'nat.timeouts': 'seconds an idle mapping lives: { tcp, tcpTransitory, udp, icmp } (defaults 7440, 240, 300, 60)',
  'nat.capacity': 'most mappings at once (default 65536)',
  options: '{ icmpRateLimit?, checksum? }',
  'options.icmpRateLimit': 'ICMP and ICMPv6 errors per second, per error element (default 100; 0: unlimited)',
  'options.checksum': 'verify IPv4 header checksums on input (default true)',
};

export const ipRouterDoc: RecipeDoc = {
  name: 'ipRouter',
  summary: 'An IPv4 or dual-stack router for N interfaces (AF_PACKET), optionally with NAT, from a short description.',
  doc: `\`ipRouter({ name, params }, (p) => description)\` returns a graph (export it as a graph file's
default); \`buildRouter(description)\` adds the same elements inside your own \`graph(...)\`. The
description's fields can use the graph's parameters (\`pktgraph run -p dev0=eth1\`). It generalises
Click's two-interface IP router (mk-ip-router) to N interfaces and IPv6.

Per interface (element names start with the interface's name, \`if0_\` by default): FromDevice
(\`if0_rx\`) -> HostEtherFilter -> Classifier (\`if0_classify\`) splitting ARP requests (answered
by ARPResponder), ARP replies (to the ARPQuerier), IPv4 (DropBroadcasts, Strip, CheckIPHeader
\`if0_check\`, GetIPAddress, into the shared lookup \`rt\`), IPv6 Neighbor Solicitations and
Advertisements (IP6NDAdvertiser, IP6NDSolicitor), IPv6 (CheckIP6Header \`if0_check6\` into
\`rt6\`) and the rest (Discard \`if0_other\`). Out of each interface: IPGWOptions (Record Route,
Timestamp), FixIPSrc, DecIPTTL, IPFragmenter (to the link's MTU), ARPQuerier, ToDevice; for IPv6
DecIP6HLIM, CheckLength (MTU), IP6NDSolicitor.

Shared: \`rt\` (IPLookup) delivers the router's own addresses to ICMPPingResponder (ping), routes
connected networks and static routes, answers "net unreachable" with ICMPError when no route and
no default route exist, and drops addresses never forwarded (0/8, 127/8, 224/4, 240/4, the
connected networks' network and broadcast addresses) into the Discard \`martians\`; \`rt6\`
(LookupIP6Route) does the same for IPv6 (ff00::/8, fe80::/10, ::/128, ::1 never forwarded).
Errors: time exceeded (TTL or hop limit), fragmentation needed / packet too big, parameter
problem (bad IP options), net unreachable, all rate-limited (options.icmpRateLimit).

What the router drops on purpose ends in Discard elements and is counted there (\`if0_other\`,
\`if0_no_ipv4\`, \`if0_no_ipv6\`, \`local_other\`, \`martians\`, their IPv6 twins ending in 6,
\`nat_unsolicited\`, \`nat_unmapped\`); every other drop is in a drops_* counter of the element
that dropped it (\`pktgraph read if0_check.drops_checksum\`), and \`pktgraph run\`'s summary
lists those.

With \`nat\`: one IPRewriter \`nat\` on the outside interface masquerades inside hosts behind its
address and forwards ports to inside servers; replies and port forwards are translated back
before the lookup; what arrives outside for neither a mapping, a port forward nor the router is
dropped (\`nat_unsolicited\`). Inside hosts reach port forwards only from the outside (no
hairpinning). \`pktgraph read nat.table\` lists the mappings.`,
  fields,
  examples: [
    'configs/router-ipv4.ts: IPv4, three interfaces (lab: configs/lab-router.json)',
    'configs/router-dual-stack.ts: IPv4 and IPv6 (lab: configs/lab-router.json)',
    'configs/router-nat.ts: two inside networks and an outside one with NAT (lab: configs/lab-router-nat.json)',
    `export default ipRouter({ name: 'r', params: { dev0: 'eth0', dev1: 'eth1' } }, (p) => ({
  interfaces: [{ device: p.dev0, ipv4: '198.18.1.254/24' }, { device: p.dev1, ipv4: '198.18.2.254/24' }],
  routes: ['198.18.8.0/24 via 198.18.2.1'],
  nat: { outside: 'if1', forwards: [{ proto: 'tcp', port: 8080, to: '198.18.1.10:80' }] }, // optional
}));`,
  ],
};
