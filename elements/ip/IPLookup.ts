import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';
import { checkRoutes } from './routeText.js';

export const IPLookup = defineElement({
  name: 'IPLookup',
  group: 'ip',
  summary: 'IPv4 longest-prefix-match routing: sends each packet to the output of its route and sets the next-hop annotation.',
  doc: `Click's StaticIPLookup/RadixIPLookup with a compact, fast table. Routes come from \`routes\` (one
per entry) and from \`file\` (one per line, \`#\` comments); each is one of

- \`PREFIX OUTPUT\`, e.g. \`10.0.0.0/8 1\`;
- \`PREFIX GATEWAY OUTPUT\` (Click's form), e.g. \`10.0.0.0/8 192.0.2.1 1\`;
- \`PREFIX [via GATEWAY] [dev OUTPUT]\` (iproute2's form, at least one of the two; \`dev 0\` if omitted),
  e.g. \`default via 192.0.2.1 dev 0\`, \`10.1.0.0/16 dev 2\`;
- \`PREFIX nexthop [via GW] [dev OUT] nexthop ...\`: ECMP over several next hops (iproute2's multipath
  form); a flow hash of the source and destination addresses picks one, the same for every packet
  of a flow.

PREFIX is \`ADDRESS/LEN\`, a bare address (a /32 host route) or \`default\` (0.0.0.0/0). A prefix with
bits set beyond its length is refused (with the canonical prefix suggested), and so is a prefix
given twice. OUTPUT is this element's output number. A bad route is refused at compile time (and
again at load time) with an error naming the element and the route. \`file\` is read when the
graph loads, by the native side, as plain text: a \`.gz\` file must be decompressed first.

Each packet's destination is the destination-address annotation if it is set (non-zero), else
the IPv4 destination from the header at the network-header annotation, or at data + 14 (after an
Ethernet header) when that annotation is not set. A packet whose header is not wholly inside the
packet (20 bytes from that offset) and has no annotation is dropped and counted in
\`drops_short\`; one without a route is dropped and counted in \`no_route\`. A routed packet gets
the destination annotation set to the route's gateway (or, without a gateway, to its own
destination: the annotation always names the next hop, as in Click) and goes to the route's output.

A batch is looked up whole (the table's batched lookup, prefetching), then split into one
sub-batch per output. The table (native/fib/lpm.h) is a Poptrie-style compressed multibit trie: a
16-bit root (8-bit for up to 4096 routes, so a small table costs about a kilobyte) and 8-bit
nodes whose runs of equal entries are stored once; about 5 MB and over 100 M lookups/s per core
for a full Internet table (bench/fib.ts).

Route changes: the handlers edit the authoritative route set on the control thread, build a new
table in one pass and publish it with an atomic pointer swap; workers keep using the old table
until their next batch, and the old table is freed after a grace period (at least 100 ms and
two further handler calls). Changes never pause traffic. Each change rebuilds the whole table
(about 150 ms for 900k routes), so change many routes with one \`add\` or \`set\` of several lines.
Loading a full table: through \`file\` about 1 s; through \`routes\` add the compile-time check (about 1 s more).`,
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
    drops_short: 'packets dropped because their IPv4 header is not inside the packet (and no destination annotation is set)',
  },
  handlers: {
    add: { doc: 'write routes (one per line); a route for an existing prefix replaces it; all or nothing', write: true },
    remove: { doc: 'write prefixes (one per line) whose routes are removed; all or nothing', write: true },
    set: { doc: 'write the whole table (routes, one per line), replacing every route', write: true },
    table: { doc: "every route, one per line, sorted by prefix, as 'PREFIX [via GW] dev OUTPUT'", read: true },
    count: { doc: 'the number of routes', read: true },
    memory: { doc: 'bytes used by the published lookup structure (table, next hops)', read: true },
    lookup: { doc: 'write an IPv4 address: looks it up in the published table; read the answer from lookup_result', write: true },
    lookup_result: { doc: "the answer to the last lookup: '[via GW] dev OUTPUT' (multipath: 'nexthop ... nexthop ...') or 'no route'", read: true },
  },
  check: (config, ports) => checkRoutes(config.routes ?? [], 32, ports.outputs),
  examples: [
    "FromPcap({ file: 'in.pcap' }).to(IPLookup({ routes: ['10.0.0.0/8 via 192.0.2.1 dev 0', 'default dev 1'] }, 'rt')); // rt.out(0), rt.out(1)",
  ],
});
