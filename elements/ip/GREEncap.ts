import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';
import { ipv4Address } from '../../src/graph/types.js';
import { outerIp4Fields } from '../lib/encapFields.js';

export const GREEncap = defineElement({
  name: 'GREEncap',
  group: 'ip',
  summary: 'Encapsulates packets in GRE over IPv4 (RFC 2784, optional key of RFC 2890).',
  doc: `Puts a GRE header and an outer IPv4 header in front of each packet: IPv4 (protocol 47, \`src\` to
\`dst\`, TOS \`tos\`, TTL \`ttl\`, don't-fragment if \`df\`, id increasing by one per packet as in IPEncap,
header checksum computed), then GRE (RFC 2784) version 0 without checksum, with protocol type
\`protocol\`: 0x0800 (the default) for IPv4 payloads, 0x86dd for IPv6, 0x6558 for Ethernet frames
(transparent Ethernet bridging). With \`key\` (0 to 4294967295) the K bit is set and the 4-byte key
field of RFC 2890 follows (28 bytes of headers in all, 24 without a key); no
sequence numbers. The network-header annotation is set to the outer IPv4 header and the
transport-header annotation to the GRE header. Dropped and counted: \`drops_no_headroom\` (too little
headroom) and \`drops_too_long\` (the datagram would exceed 65535 bytes). Works in push or pull
position. GREDecap undoes it.`,
  inputs: '1',
  outputs: '1',
  processing: 'a/a',
  config: Type.Object(
    {
      src: ipv4Address('The outer source address, dotted quad.'),
      dst: ipv4Address('The outer destination address, dotted quad.'),
      protocol: Type.Optional(Type.Integer({ minimum: 0, maximum: 0xffff, default: 0x0800, description: 'The GRE protocol type (EtherType of the payload; 0x6558 for Ethernet).' })),
      key: Type.Optional(Type.Integer({ minimum: -1, maximum: 0xffffffff, default: -1, description: 'The RFC 2890 key (-1: no key field).' })),
      ...outerIp4Fields,
    },
    { additionalProperties: false },
  ),
  counters: {
    packets: 'packets encapsulated',
    drops_no_headroom: 'packets dropped because they had too little headroom (24 bytes, 28 with a key)',
    drops_too_long: 'packets dropped because the datagram would be longer than 65535 bytes',
  },
  examples: ["GREEncap({ src: '198.18.0.1', dst: '198.19.0.1' }).to(EtherEncap({ type: 0x0800, src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02' }))"],
});
