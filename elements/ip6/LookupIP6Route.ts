import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';
import { checkRoutes } from '../ip/routeText.js';

export const LookupIP6Route = defineElement({
  name: 'LookupIP6Route',
  group: 'ip6',
  summary: 'IPv6 longest-prefix-match routing: sends each packet to the output of its route and sets the next-hop annotation.',
  doc: `Click's LookupIP6Route with a compact, fast table (the IPv6 twin of IPLookup). Routes come from \`routes\` (one
per entry) and from \`file\` (one per line, \`#\` comments); each is one of

- \`PREFIX OUTPUT\`, e.g. \`2001:db8::/32 1\`;
- \`PREFIX GATEWAY OUTPUT\` (Click's form), e.g. \`2001:db8::/32 fe80::1 1\`;
- \`PREFIX [via GATEWAY] [dev OUTPUT]\` (iproute2's form, at least one of the two; \`dev 0\` if omitted),
  e.g. \`default via fe80::1 dev 0\`, \`fd00:1::/48 dev 2\`;
- \`PREFIX nexthop [via GW] [dev OUT] nexthop ...\`: ECMP over several next hops (iproute2's multipath
  form); a flow hash of the source and destination addresses picks one, the same for every packet
  of a flow.

PREFIX is \`ADDRESS/LEN\`, a bare address (a /128 host route) or \`default\` (::/0). A prefix with
bits set beyond its length is refused (with the canonical prefix suggested), and so is a prefix
given twice. OUTPUT is this element's output number. A bad route is refused at compile time (and
again at load time) with an error naming the element and the route. \`file\` is read when the
graph loads, by the native side, as plain text: a \`.gz\` file must be decompressed first.

Each packet's destination is the IPv6 destination-address annotation (\`dst_ip6\`) if it is set
(not all zero), else the IPv6 destination from the header at the network-header annotation, or at data + 14 (after an
Ethernet header) when that annotation is not set. A packet whose header is not wholly inside the
packet (40 bytes from that offset) and has no annotation is dropped and counted in
\`drops_short\`; one without a route is dropped and counted in \`no_route\`. A routed packet gets
the IPv6 destination annotation set to the route's gateway (or, without a gateway, to its own
destination: the annotation always names the next hop, as in Click) and goes to the route's output.

A batch is looked up whole (the table's batched lookup, prefetching), then split into one
sub-batch per output. The table (native/fib/lpm.h) is a Poptrie-style compressed multibit trie: a
16-bit root (8-bit for up to 4096 routes, so a small table costs about a kilobyte) and 8-bit
nodes whose runs of equal entries are stored once; about 3 MB and over 40 M lookups/s per core
for a full Internet table of 160k routes (bench/fib.ts).

Route changes: the handlers edit the authoritative route set on the control thread, build a new
table in one pass and publish it with an atomic pointer swap; workers keep using the old table
until their next batch, and the old table is freed after a grace period (at least 100 ms and
two further handler calls). Changes never pause traffic. Each change rebuilds the whole table
(about 30 ms for 160k routes), so change many routes with one \`add\` or \`set\` of several lines.`,
  inputs: '1',
  outputs: '1-',
  processing: 'h/h',
  config: Type.Object(
    {
      routes: Type.Optional(Type.Array(Type.String(), { default: [], description: "Routes, one per entry: 'PREFIX OUTPUT', 'PREFIX GATEWAY OUTPUT', 'PREFIX [via GW] [dev OUTPUT]' or multipath." })),
      file: Type.Optional(Type.String({ default: '', description: "A plain-text file of more routes, one per line ('#' comments), read at load time; '' for none." })),
    },
    { additionalProperties: false },
  ),
  counters: {
    no_route: 'packets dropped because no route matched their destination',
    drops_short: 'packets dropped because their IPv6 header is not inside the packet (and no destination annotation is set)',
  },
  handlers: {
    add: { doc: 'write routes (one per line); a route for an existing prefix replaces it; all or nothing', write: true },
    remove: { doc: 'write prefixes (one per line) whose routes are removed; all or nothing', write: true },
    set: { doc: 'write the whole table (routes, one per line), replacing every route', write: true },
    table: { doc: "every route, one per line, sorted by prefix, as 'PREFIX [via GW] dev OUTPUT'", read: true },
    count: { doc: 'the number of routes', read: true },
    memory: { doc: 'bytes used by the published lookup structure (table, next hops)', read: true },
    lookup: { doc: 'write an IPv6 address: looks it up in the published table; read the answer from lookup_result', write: true },
    lookup_result: { doc: "the answer to the last lookup: '[via GW] dev OUTPUT' (multipath: 'nexthop ... nexthop ...') or 'no route'", read: true },
  },
  check: (config, ports) => checkRoutes(config.routes ?? [], 128, ports.outputs),
  examples: [
    "FromPcap({ file: 'in.pcap' }).to(LookupIP6Route({ routes: ['2001:db8::/32 via fe80::1 dev 0', 'default dev 1'] }, 'rt')); // rt.out(0), rt.out(1)",
  ],
});
