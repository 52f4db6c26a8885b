import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const CheckIP6Header = defineElement({
  name: 'CheckIP6Header',
  group: 'ip6',
  summary: 'Checks IPv6 headers: drops and counts bad ones by reason, marks and trims good ones.',
  doc: `Click's CheckIP6Header, the IPv6 counterpart of CheckIPHeader. Checks the IPv6 header at data + \`offset\` (0 when
the data starts at the IPv6 header, e.g. after \`Strip({ length: 14 })\`; 14 for a bare Ethernet frame). In
order, a packet is dropped and counted in:

- \`drops_short\`: fewer than 40 bytes (a fixed IPv6 header) from the offset;
- \`drops_version\`: the version is not 6;
- \`drops_payload_length\`: the payload length is more than the bytes after the 40-byte header;
- \`drops_bad_source\`: the source is a multicast address (ff00::/8), which no sender may use. The
  unspecified source :: is accepted (duplicate address detection uses it).

A valid packet is counted in \`packets\`; bytes after the datagram (40 + payload length; Ethernet padding of
short frames) are trimmed off the end. It gets the network-header annotation (data + offset), the
transport-header annotation at network header + 40, and the IPv6 destination-address annotation (\`dst_ip6\`)
from the header's destination, which LookupIP6Route routes on. Extension headers are not walked: after
a hop-by-hop, routing, fragment or destination-options header the transport annotation points at that
extension header, not at the upper-layer header. Jumbograms (payload length 0 with a jumbo option) are
not supported: a payload length of 0 trims the packet to its 40-byte header. Click's optional second
output for bad packets is not offered: bad packets are dropped. Works in push or pull position.`,
  inputs: '1',
  outputs: '1',
  processing: 'a/a',
  config: Type.Object(
    {
      offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 4096, default: 0, description: 'Bytes from the packet data to the IPv6 header.' })),
    },
    { additionalProperties: false },
  ),
  counters: {
    packets: 'valid packets passed on',
    drops_short: 'packets dropped because they end before 40 bytes past the offset',
    drops_version: 'packets dropped because the IP version is not 6',
    drops_payload_length: 'packets dropped because the payload length runs past the end of the packet',
    drops_bad_source: 'packets dropped because the source is multicast (ff00::/8)',
  },
  examples: ["FromPcap({ file: 'in.pcap' }).to(Strip({ length: 14 })).to(CheckIP6Header()).to(LookupIP6Route({ routes: ['default 0'] }))"],
});
