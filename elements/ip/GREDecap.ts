import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const GREDecap = defineElement({
  name: 'GREDecap',
  group: 'ip',
  summary: 'Checks and strips the outer IPv4 and GRE headers of GRE tunnel packets.',
  doc: `Undoes GREEncap. The outer IPv4 header is taken at the network-header annotation when it is set and
lies inside the packet (CheckIPHeader or FromPcap on a raw-IP file set it; bytes before it, such as
an Ethernet header, are stripped too), else at the start of the data. In order, a packet is dropped
and counted in:

- \`drops_short\`: fewer than 20 bytes, or the IPv4 header, the GRE header or its optional fields do
  not fit inside the datagram;
- \`drops_bad_ip\`: the outer header's version is not 4, IHL < 5, the total length is below the header
  length or beyond the packet, or the header checksum is wrong;
- \`drops_fragment\`: the outer datagram is a fragment (not reassembled here);
- \`drops_not_gre\`: the protocol is not 47;
- \`drops_gre_version_1\`: GRE version 1, the enhanced GRE of PPTP (RFC 2637), which carries PPP
  frames (protocol type 0x880b) and a call id where version 0 has its key;
- \`drops_gre_version\`: another GRE version than 0 and 1, or the routing, strict-route or recursion
  bits of RFC 1701 are set (RFC 2784 section 2.3);
- \`drops_gre_checksum\`: the C bit is set and the GRE checksum is wrong;
- \`drops_key\`: the packet's key (RFC 2890) is not \`key\`, or it has a key and none is configured, or
  has none and one is.

Keys follow Linux's GRE tunnels (\`ip tunnel add ... key K\`): a tunnel without a key receives only
packets without one, a tunnel with a key only packets with that key. To accept keyed packets, set
\`key\` to the key they carry; for several keys, put a Classifier on the key field in front of one
GREDecap per key (on a raw outer IPv4 header without options, the GRE flags are at offset 20 and the
key at offset 24, or 28 when the C bit is set: \`Classifier({ patterns: ['9/2f 20/20%a0 24/0000002a',
'-'] })\` picks key 42 with C clear). There is no "any key" mode. Version 1 packets are not
decapsulated (their payload is PPP, not an EtherType's); to hand them to something that speaks PPTP,
take them out in front of GREDecap, e.g. \`Classifier({ patterns: ['9/2f 21/01%07', '-'] })\` (protocol
47, version bits 1, on a raw outer header without options). Click has no GRE elements.

Sequence numbers (S bit) are skipped, not checked. Otherwise the outer IPv4 header, the GRE header and
any bytes after the outer datagram (link padding) are removed and the packet is counted in
\`packets\`. Header annotations are reset: for protocol type 0x0800 the network-header annotation
is set to the payload, for 0x6558 (Ethernet) the MAC-header annotation. Works in push or pull
position.`,
  inputs: '1',
  outputs: '1',
  processing: 'a/a',
  config: Type.Object(
    {
      key: Type.Optional(Type.Integer({ minimum: -1, maximum: 0xffffffff, default: -1, description: 'The RFC 2890 key packets must carry (-1: packets must carry none).' })),
    },
    { additionalProperties: false },
  ),
  counters: {
    drops_short: 'packets dropped because the outer IPv4 or GRE header does not fit',
    drops_bad_ip: 'packets dropped because the outer IPv4 header is invalid (version, IHL, total length, checksum)',
    drops_fragment: 'packets dropped because the outer datagram is a fragment',
    drops_not_gre: 'packets dropped because the outer protocol is not 47 (GRE)',
    drops_gre_version_1: 'packets dropped because they are GRE version 1 (PPTP, RFC 2637)',
    drops_gre_version: 'packets dropped because of a GRE version other than 0 and 1, or RFC 1701 bits set',
    drops_gre_checksum: 'packets dropped because the GRE checksum (C bit set) is wrong',
    drops_key: 'packets dropped because the GRE key does not match the configured one (or one is carried and none configured, or the reverse)',
    packets: 'packets decapsulated',
  },
  examples: ["FromPcap({ file: 'gre.pcap' }).to(Strip({ length: 14 })).to(GREDecap()).to(CheckIPHeader())"],
});
