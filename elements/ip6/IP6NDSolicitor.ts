import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';
import { resolverFields, resolverHandlers, resolverQuotas } from '../lib/resolverFields.js';
import { etherAddress, ipv6Address } from '../../src/graph/types.js';

export const IP6NDSolicitor = defineElement({
  name: 'IP6NDSolicitor',
  group: 'ip6',
  summary: 'Encapsulates IPv6 packets in Ethernet, finding each next hop\'s address with Neighbor Discovery (Click\'s IP6NDSolicitor).',
  doc: `Click's IP6NDSolicitor(IP6, MAC): the IPv6 counterpart of ARPQuerier, with the same table, limits,
timer and handlers. Input 0 takes IPv6 packets without a link header; each one's next hop is the
IPv6 destination-address annotation when it is set (not ::), else the destination of the IPv6
header at the network-header annotation (or at the start of the data). Input 1 takes Ethernet
frames carrying Neighbor Advertisements. Output 0 sends Ethernet frames: the IPv6 packets,
encapsulated, and the Neighbor Solicitations the element makes.

A packet whose next hop is in the table goes out at once with an Ethernet header (destination: the
next hop's address, source: \`mac\`, type 0x86dd) put in its headroom, counted in \`sent\`. A
multicast next hop (ff00::/8) goes to 33:33 followed by its low 32 bits, without Neighbor Discovery.
A packet whose next hop is unknown is held, and a Neighbor Solicitation is sent for it: 86 bytes,
from \`mac\` to 33:33:ff:XX:XX:XX, IPv6 from \`ip\` to the solicited-node multicast address
ff02::1:ffXX:XXXX (XX:XXXX: the target's low 24 bits), hop limit 255, ICMPv6 type 135 for the
target with a source link-layer address option carrying \`mac\`. More packets for the same address
are held behind it without another solicitation. While the address is unresolved the solicitation
is sent again every \`pollInterval\` seconds; after \`pendingTimeout\` seconds without an answer the
address is given up: its held packets are dropped and counted in \`drops_unresolved\`. At most
\`perHost\` packets are held per address and \`capacity\` in all; a packet beyond either is dropped
and counted in \`drops_queue_full\` (the solicitation is still sent).

A Neighbor Advertisement on input 1 (EtherType 0x86dd, next header 58 without extension headers,
ICMPv6 type 136 code 0, hop limit 255, valid checksum) teaches the table its target address's MAC:
the target link-layer address option, else the frame's Ethernet source. It resolves a pending entry
(whose held packets then go out, encapsulated, in the order they came), refreshes a known one, or
(only when it is addressed to \`ip\`) adds a new one; it is counted in \`replies\`. An
advertisement for a static entry, for \`ip\` itself, for an unknown address not addressed to \`ip\`,
or when the table is full, and any frame on input 1 that is not a Neighbor Advertisement, are
counted in \`na_ignored\`. An advertisement with a hop limit other than 255, a bad checksum, a
nonzero code, a multicast target, a malformed option or a multicast or zero link-layer address is
counted in \`drops_malformed\`. Every frame on input 1 is consumed.

A learned entry lives \`timeout\` seconds from the last advertisement, and is refreshed as
ARPQuerier's are (a packet in the last \`pendingTimeout\` seconds of its life sends a solicitation,
at most one every \`pollInterval\`). The table holds at most \`entryCapacity\` addresses; a packet for a
new address when it is full is dropped and counted in \`drops_table_full\`. A packet with less than
14 bytes of headroom is dropped and counted in \`drops_no_headroom\`; one with no destination
annotation and no complete IPv6 header (40 bytes) in \`drops_short\`; one whose next hop is :: (no
destination annotation and the unspecified destination) in \`drops_zero_address\`, never solicited. A
solicitation the pool has no
buffer for is counted in \`pool_empty\`.

Input 0 and input 1 may be pushed from different workers: the table and the held packets are
guarded by one spin lock, taken once per batch; a timer sends the retries, gives up unresolved
addresses, purges expired entries and sends the packets an \`insert\` resolved. Held packets count
as held by the graph and are freed when the graph is removed.

Handlers: \`table\` lists the entries sorted by address, one per line: \`IP MAC AGE\`, \`IP MAC static\`,
or \`IP pending AGE HELD\`. \`insert\` takes \`IP MAC\` and makes a static entry (packets held for the
address are sent); \`delete\` takes an IP and removes its entry (held packets are dropped, counted in
\`drops_unresolved\`); \`clear\` removes every entry the same way.`,
  inputs: '2',
  outputs: '1',
  processing: 'h/h',
  config: Type.Object(
    {
      ip: ipv6Address('This host\'s IPv6 address: the source of the Neighbor Solicitations.'),
      mac: etherAddress('This host\'s Ethernet address: the source of every frame sent, and the source link-layer address of the solicitations.'),
      ...resolverFields({ requests: 'solicitations', request: 'solicitation', reply: 'advertisement' }),
    },
    { additionalProperties: false },
  ),
  counters: {
    sent: 'IPv6 packets sent encapsulated (at once, or after their next hop was resolved)',
    requests: 'Neighbor Solicitations sent (first ones and retries)',
    replies: 'Neighbor Advertisements that resolved, refreshed or added an entry',
    drops_queue_full: 'packets for an unresolved address dropped because perHost packets were held for it or capacity in all',
    drops_unresolved: 'held packets dropped because their address was given up (pendingTimeout), deleted or cleared',
    drops_table_full: 'packets for a new address dropped because the table held entryCapacity addresses',
    drops_no_headroom: 'packets dropped because they had less than 14 bytes of headroom',
    drops_short: 'packets dropped because they had no destination annotation and no complete IPv6 header',
    drops_zero_address: 'packets dropped because their next hop was :: (no destination annotation and the unspecified IPv6 destination: never solicited)',
    drops_malformed: 'advertisements on input 1 dropped because their hop limit, checksum, code, target, options or link-layer address are bad',
    na_ignored: 'frames on input 1 that taught nothing (not advertisements, or advertisements for static entries, for ip itself, unsolicited ones, or when the table was full)',
    pool_empty: 'solicitations not sent because the packet pool was empty',
  },
  handlers: resolverHandlers,
  quotas: resolverQuotas,
  examples: [
    "const nd = IP6NDSolicitor({ ip: 'fd00::1', mac: '02:00:00:00:00:01' }, 'nds'); rt.out(0).to(nd.in(0)); adverts.to(nd.in(1)); nd.out(0).to(ToDevice({ device: 'eth0' }))",
  ],
});
