import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const ICMPPingResponder = defineElement({
  name: 'ICMPPingResponder',
  group: 'ip',
  summary: 'Turns ICMP echo requests into echo replies in place; other packets go to output 1 or are dropped.',
  doc: `Click's ICMPPingResponder. Works on the IPv4 header at the network-header annotation (set by
CheckIPHeader or MarkIPHeader). An ICMP echo request (protocol 1, ICMP type 8, not a fragment) becomes
an echo reply in the same buffer: the source and destination addresses are swapped, the ICMP type
becomes 0 (code, identifier, sequence and data are kept), the TTL is reset to 64 (Linux's default TTL;
Click uses 255, but 64 is what hosts answer with and what \`ping\` expects to see), and both checksums
are updated incrementally (RFC 1624, eqn. 3), so a right checksum stays right and a wrong one stays
wrong (the ICMP checksum is not verified, as in Click); a reply that is all zero bytes gets 0xffff, the
one checksum eqn. 3 gets wrong. The destination-address annotation is set to
the reply's destination (the request's source). IP options and the IP identification are left as
they are; a request sent to a broadcast or multicast address is answered from that address, as in
Click (put a filter in front if that is unwanted). Replies leave on output 0 and are counted in
\`replies\`.

Packets that are not echo requests (another protocol, another ICMP type, or an IPv4 fragment: MF set
or a non-zero offset) go unchanged to output 1 when it exists, counted in \`not_echo\`; without
output 1 they are dropped and counted in \`drops_not_echo\`. Malformed packets are dropped and counted
in \`drops_malformed\`: the network-header annotation unset or its first 20 bytes outside the packet,
a version other than 4, IHL < 5, a total length below the header length or beyond the packet, or an
ICMP message (of an unfragmented ICMP packet) shorter than its 8-byte header. Output 0 works in push or
pull position (Click's \`a/ah\`); output 1 is push. Each output keeps the arrival order.`,
  inputs: '1',
  outputs: '1-2',
  processing: 'a/ah',
  config: Type.Object({}, { additionalProperties: false }),
  endsPushCycles: "its replies may go back to the route lookup: it answers only echo requests, never a reply, so a packet passes it at most twice",
  counters: {
    replies: 'echo requests turned into echo replies (sent to output 0)',
    drops_not_echo: 'packets that are not echo requests, dropped because output 1 does not exist',
    drops_malformed: 'packets dropped because the IPv4 header or the ICMP header is missing, short or inconsistent',
    not_echo: 'packets that are not echo requests, sent unchanged to output 1',
  },
  examples: ["CheckIPHeader().to(ICMPPingResponder({}, 'ping')).to(EtherEncap({ src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02' }))"],
});
