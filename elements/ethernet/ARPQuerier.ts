import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';
import { resolverFields, resolverHandlers, resolverQuotas } from '../lib/resolverFields.js';
import { etherAddress, ipv4Address, ipv4Prefix, orEmpty } from '../../src/graph/types.js';
import { formatIPv4, maskOf, parsePrefix } from '../../src/util/address.js';

/** The subnet broadcast address of 'A.B.C.D/LEN' (Click: the address with the host bits set), or
 *  255.255.255.255 without a prefix, or with /31 or /32, which have no broadcast address (RFC 3021). */
export function subnetBroadcast(ip: string): string {
  const p = parsePrefix(ip, { width: 32, bareAddress: true });
  if (typeof p === 'string' || p.len >= 31) return '255.255.255.255';
  return formatIPv4(p.net | (~maskOf(32, p.len) & 0xffffffffn));
}

export const ARPQuerier = defineElement({
  name: 'ARPQuerier',
  group: 'ethernet',
  summary: 'Encapsulates IPv4 packets in Ethernet, finding each next hop\'s address with ARP (Click\'s ARPQuerier).',
  doc: `Click's ARPQuerier(IP, MAC). Input 0 takes IPv4 packets without a link header; each one's next hop
is the destination-address annotation when it is set (IPLookup sets it to the route's gateway),
else the destination of the IPv4 header at the network-header annotation (or at the start of the
data). \`ip\` may carry the interface's prefix length, as Click's IP argument may (\`'198.18.0.1/24'\`):
the subnet's broadcast address (here 198.18.0.255, the address with every host bit set) then also
goes to ff:ff:ff:ff:ff:ff instead of being asked for; \`broadcast\` sets that address directly (Click's
BROADCAST). A /31 or /32 prefix has no broadcast address (RFC 3021; Click would take the /31 peer's
address for one). Input 1 takes Ethernet frames carrying ARP replies. Output 0 sends Ethernet frames: the IPv4
packets, encapsulated, and the ARP requests the element makes (as in Click, one output for both).

A packet whose next hop is in the table goes out at once with an Ethernet header (destination: the
next hop's address, source: \`mac\`, type 0x0800) put in its headroom, counted in \`sent\`. Next hop
255.255.255.255 and the subnet broadcast address go to ff:ff:ff:ff:ff:ff and a multicast next hop
(224.0.0.0/4) to its 01:00:5e multicast address, without ARP. A packet whose next hop is unknown is held, and an ARP
request (42 bytes: broadcast, "who has NEXT-HOP, tell \`ip\`", sender \`mac\`) is sent for it; more
packets for the same address are held behind it without another request. While the address is
unresolved the request is sent again every \`pollInterval\` seconds; after \`pendingTimeout\` seconds
without an answer the address is given up: its held packets are dropped and counted in
\`drops_unresolved\`. At most \`perHost\` packets are held per address and \`capacity\` in all; a
packet beyond either is dropped and counted in \`drops_queue_full\` (the request is still sent).

An ARP reply on input 1 (Ethernet/IPv4 ARP, operation 2) teaches the table its sender's address:
it resolves a pending entry (whose held packets then go out, encapsulated, in the order they came),
refreshes a known one, or (only when it is addressed to \`ip\`) adds a new one; it is counted in
\`replies\`. A reply for a static entry, for \`ip\` itself, for an unknown address not addressed to
\`ip\`, or when the table is full, and any other well-formed ARP frame (a request) are counted in
\`arp_ignored\`. A frame on input 1 that is not an Ethernet/IPv4 ARP frame of at least 42 bytes, or
whose sender hardware address is multicast or zero, is counted in \`drops_malformed\`. Every frame
on input 1 is consumed.

A learned entry lives \`timeout\` seconds from the last reply. A packet that uses it in the last
\`pendingTimeout\` seconds of that life (in its second half at most) also sends a request (at most one
every \`pollInterval\`), so that a reply renews the entry before it expires, without holding
packets; a packet for an expired entry makes it pending again (held, a new request sent).

The table holds at most \`entryCapacity\` addresses (pending, learned and static); a packet for a
new address when it is full (after expired entries are purged) is dropped and counted in
\`drops_table_full\`. A packet with less than 14 bytes of
headroom is dropped and counted in \`drops_no_headroom\`; one with no destination annotation and no
complete IPv4 header (20 bytes) in \`drops_short\`; one whose next hop is 0.0.0.0 (no destination
annotation and a zero destination address) in \`drops_zero_address\`, never ARPed for (Click drops it
too, asking "missing dest IP addr annotation?"). An ARP request the pool has no buffer for is
counted in \`pool_empty\`.

Input 0 and input 1 may be pushed from different workers: the table and the held packets are
guarded by one spin lock, taken once per batch; a timer (on the worker of the graph's first task)
sends the retries, gives up unresolved addresses, purges expired entries and sends the packets an
\`insert\` resolved. Held packets count as held by the graph (it does not drain while any are
held) and are freed when the graph is removed.

Handlers: \`table\` lists the entries sorted by address, one per line: \`IP MAC AGE\` (learned; age in
seconds since the last reply), \`IP MAC static\`, or \`IP pending AGE HELD\` (seconds since the first
request, packets held). \`insert\` takes \`IP MAC\` and makes a static entry (never expires, never
changed by replies; packets held for the address are sent); \`delete\` takes an IP and removes its
entry (held packets are dropped, counted in \`drops_unresolved\`); \`clear\` removes every entry
the same way.`,
  inputs: '2',
  outputs: '1',
  processing: 'h/h',
  config: Type.Object(
    {
      ip: ipv4Prefix(
        "This host's IPv4 address (the sender protocol address of the ARP requests), optionally with its prefix length ('198.18.0.1/24'), whose broadcast address is then sent to ff:ff:ff:ff:ff:ff.",
      ),
      broadcast: Type.Optional(
        orEmpty(
          ipv4Address('The subnet broadcast address.'),
          "The subnet broadcast address, sent to ff:ff:ff:ff:ff:ff (Click's BROADCAST); '' (the default): derived from ip's prefix, or none.",
        ),
      ),
      mac: etherAddress('This host\'s Ethernet address: the source of every frame sent, and the sender hardware address of the requests.'),
      ...resolverFields({ requests: 'ARP requests', request: 'request', reply: 'reply' }),
    },
    { additionalProperties: false },
  ),
  counters: {
    sent: 'IPv4 packets sent encapsulated (at once, or after their next hop was resolved)',
    requests: 'ARP requests sent (first requests and retries)',
    replies: 'ARP replies that resolved, refreshed or added an entry',
    drops_queue_full: 'packets for an unresolved address dropped because perHost packets were held for it or capacity in all',
    drops_unresolved: 'held packets dropped because their address was given up (pendingTimeout), deleted or cleared',
    drops_table_full: 'packets for a new address dropped because the table held entryCapacity addresses',
    drops_no_headroom: 'packets dropped because they had less than 14 bytes of headroom',
    drops_short: 'packets dropped because they had no destination annotation and no complete IPv4 header',
    drops_zero_address: 'packets dropped because their next hop was 0.0.0.0 (no destination annotation and a zero IPv4 destination: never ARPed for, as in Click)',
    drops_malformed: 'frames on input 1 dropped because they are not Ethernet/IPv4 ARP frames of at least 42 bytes, or have a multicast or zero sender address',
    arp_ignored: 'well-formed ARP frames on input 1 that taught nothing (requests, replies for static entries, for ip itself, unsolicited ones, or when the table was full)',
    pool_empty: 'ARP requests not sent because the packet pool was empty',
  },
  handlers: resolverHandlers,
  quotas: resolverQuotas,
  // The native side reads the address of \`ip\` and the broadcast address, derived here once.
  plan: (c) => ({ broadcast: c.broadcast || subnetBroadcast(c.ip) }),
  examples: [
    "const rt = IPLookup({ routes: ['default via 192.0.2.254 dev 0'] }); const aq = ARPQuerier({ ip: '192.0.2.1/24', mac: '02:00:00:00:00:01' }, 'arpq'); rt.out(0).to(aq.in(0)); replies.to(aq.in(1)); aq.out(0).to(ToDevice({ device: 'eth0' }))",
  ],
});
