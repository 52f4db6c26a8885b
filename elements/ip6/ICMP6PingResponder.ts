import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const ICMP6PingResponder = defineElement({
  name: 'ICMP6PingResponder',
  group: 'ip6',
  summary: 'Turns ICMPv6 echo requests into echo replies in place; other packets go to output 1.',
  doc: `The IPv6 counterpart of Click's ICMPPingResponder, named by analogy with it. Works on the IPv6 header at the
network-header annotation (set by CheckIP6Header, or by FromPcap on a raw-IP file). An ICMPv6 echo request (next
header 58 directly after the IPv6 header, type 128) becomes an echo reply (type 129, code 0) in place: the
source and destination addresses are swapped, the hop limit set to 64, the ICMPv6 checksum recomputed over
the IPv6 pseudo-header (RFC 4443 section 2.3), and the identifier, sequence number and data kept; bytes after
the datagram (40 + payload length) are trimmed. The reply gets the IPv6 destination-address annotation
(\`dst_ip6\`) set to its new destination (the requester), for LookupIP6Route, and the transport-header
annotation at network header + 40; it leaves on output 0, counted in \`replies\`.

Any other packet (another next header, extension headers before the ICMPv6 header, which are not walked,
or another ICMPv6 type) goes, unchanged, to output 1 when it exists (counted in \`not_echo\`), else it is dropped
(counted in \`drops_not_echo\`). In order, a packet is dropped, and counted, when:

- \`drops_no_header\`: the network-header annotation is unset or the 40-byte header is not inside the packet;
- \`drops_malformed\`: the version is not 6, the payload length runs past the end of the packet, or an
  ICMPv6 message (echo request or too short to tell) is shorter than the 8-byte echo header;
- \`drops_checksum\`: the request's ICMPv6 checksum is wrong (RFC 4443 section 2.4: such messages are
  discarded), so a corrupted request is never answered with a correct reply;
- \`drops_bad_address\`: the source is multicast or unspecified (there is no one to answer), or the
  destination is multicast (the reply would need a unicast source address, which this element does not
  know).

Output 0 works in push or pull position; output 1 is push. Each output keeps the arrival order.`,
  inputs: '1',
  outputs: '1-2',
  processing: 'a/ah',
  config: Type.Object({}, { additionalProperties: false }),
  endsPushCycles: "its replies may go back to the route lookup: it answers only echo requests, never a reply, so a packet passes it at most twice",
  counters: {
    replies: 'echo requests turned into echo replies (sent to output 0)',
    not_echo: 'packets that are not ICMPv6 echo requests, sent to output 1',
    drops_not_echo: 'packets that are not ICMPv6 echo requests, dropped because output 1 does not exist',
    drops_no_header: 'packets dropped because the network-header annotation is unset or the 40-byte header is not inside the packet',
    drops_malformed: 'packets dropped because the version is not 6, the payload length runs past the packet, or the ICMPv6 message is shorter than 8 bytes',
    drops_checksum: 'echo requests dropped because their ICMPv6 checksum is wrong',
    drops_bad_address: 'echo requests dropped because the source is multicast or unspecified, or the destination is multicast',
  },
  examples: ["CheckIP6Header().to(ICMP6PingResponder({}, 'ping')).to(LookupIP6Route({ routes: ['default 0'] })); // ping.out(1) for the rest, optional"],
});
