import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const CheckICMPHeader = defineElement({
  name: 'CheckICMPHeader',
  group: 'ip',
  summary: 'Checks the length and checksum of ICMP messages; bad ones are dropped or sent to output 1.',
  doc: `Click's CheckICMPHeader. Expects IPv4 packets with the network-header annotation set (CheckIPHeader
or MarkIPHeader); the ICMP message starts at the transport-header annotation (or, unset, after the IPv4
header) and ends where the IPv4 total length says. A message passes on output 0 when it has at least the
8-byte ICMP header, the length its type requires (RFC 792: destination unreachable, source quench,
redirect, time exceeded and parameter problem quote at least an IPv4 header and 8 bytes, so 36 bytes in
all; timestamp request and reply are exactly 20 bytes; information request and reply exactly 8; other
types any length), and a correct checksum over the whole message.

Rejected packets, by reason: \`drops_no_header\` (annotation unset, IPv4 header not inside the packet,
a header or total length that does not fit), \`drops_not_icmp\` (protocol is not 1), \`drops_fragment\`
(a fragment: its message cannot be checked whole; reassemble first), \`drops_bad_length\` and
\`drops_bad_checksum\`. They are freed and counted under their reason; when output 1 is connected they
go there unchanged instead, counted in \`rejected\`, as Click's optional second output does.

Differences from Click, deliberate: the message ends at the IPv4 total length, not at the end of the
packet, so Ethernet padding is not summed (Click's would reject a padded message); fragments are
rejected by name rather than failing the checksum. Click's VERBOSE and DETAILS are not needed: the
reasons are always counted. Output 0 works in push or pull position; output 1 is push.`,
  inputs: '1',
  outputs: '1-2',
  processing: 'a/ah',
  config: Type.Object({}, { additionalProperties: false }),
  counters: {
    drops_no_header: 'packets dropped because the IPv4 header is not set, not inside the packet, or its lengths do not fit',
    drops_not_icmp: 'packets dropped because their IPv4 protocol is not ICMP (1)',
    drops_fragment: 'packets dropped because they are IPv4 fragments',
    drops_bad_length: 'packets dropped because the ICMP message is shorter than 8 bytes or than its type requires',
    drops_bad_checksum: 'packets dropped because the ICMP checksum is wrong',
    rejected: 'rejected packets sent to output 1 (when it is connected; not counted under a reason)',
  },
  examples: ["FromPcap({ file: 'icmp.pcap' }).to(Strip({ length: 14 })).to(CheckIPHeader()).to(CheckICMPHeader()).to(ICMPPingResponder())"],
});
