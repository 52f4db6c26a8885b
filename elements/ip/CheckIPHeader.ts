import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const CheckIPHeader = defineElement({
  name: 'CheckIPHeader',
  group: 'ip',
  summary: 'Checks IPv4 headers: drops and counts bad ones by reason, marks and trims good ones.',
  doc: `Click's CheckIPHeader(OFFSET). Checks the IPv4 header at data + \`offset\` (0 when the data starts at
the IP header, e.g. after \`Strip({ length: 14 })\`; 14 for a bare Ethernet frame). In order, a packet is
dropped and counted in:

- \`drops_short\`: fewer than 20 bytes from the offset, or fewer than the header length (IHL * 4);
- \`drops_version\`: the version is not 4;
- \`drops_header_length\`: IHL < 5;
- \`drops_total_length\`: the total length is less than the header length or more than the bytes
  from the offset to the end of the packet;
- \`drops_checksum\`: the header checksum is wrong (not checked with \`checksum: false\`);
- \`drops_bad_source\`: the source is the broadcast address 255.255.255.255 or a multicast address
  (224.0.0.0/4), which no sender may use. The unspecified source 0.0.0.0 is accepted (DHCP).
  Click also drops configured interface broadcast addresses; this element has no such list.

A valid packet is counted in \`packets\` and gets the network-header annotation (data + offset) and
the transport-header annotation (network header + IHL * 4); bytes after the datagram's total length
(Ethernet padding of short frames) are trimmed off the end, as in Click. Options are not checked.
Click's optional second output for bad packets is not offered: bad packets are dropped.
Works in push or pull position.`,
  inputs: '1',
  outputs: '1',
  processing: 'a/a',
  config: Type.Object(
    {
      offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 4096, default: 0, description: 'Bytes from the packet data to the IPv4 header.' })),
      checksum: Type.Optional(Type.Boolean({ default: true, description: 'Verify the header checksum.' })),
    },
    { additionalProperties: false },
  ),
  counters: {
    packets: 'valid packets passed on',
    drops_short: 'packets dropped because they end before 20 bytes or before the header length past the offset',
    drops_version: 'packets dropped because the IP version is not 4',
    drops_header_length: 'packets dropped because the header length (IHL) is below 5',
    drops_total_length: 'packets dropped because the total length is below the header length or beyond the packet',
    drops_checksum: 'packets dropped because the header checksum is wrong',
    drops_bad_source: 'packets dropped because the source is 255.255.255.255 or multicast (224.0.0.0/4)',
  },
  examples: ["FromPcap({ file: 'in.pcap' }).to(Strip({ length: 14 })).to(CheckIPHeader()).to(IPLookup({ routes: ['default 0'] }))"],
});
