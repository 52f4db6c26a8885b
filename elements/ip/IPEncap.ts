import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';
import { ipv4Address } from '../../src/graph/types.js';
import { outerIp4Fields } from '../lib/encapFields.js';

export const IPEncap = defineElement({
  name: 'IPEncap',
  group: 'ip',
  summary: 'Prepends a 20-byte IPv4 header (IP-in-IP and the like).',
  doc: `Click's IPEncap(PROTO, SRC, DST): puts a 20-byte IPv4 header (no options) in front of each packet,
using its headroom: protocol \`proto\` (4 for IP-in-IP, 41 for IPv6-in-IPv4), source \`src\`,
destination \`dst\`, TOS \`tos\`, TTL \`ttl\`, the don't-fragment flag if \`df\`, the total length of
the new datagram, and an identification field that increases by one per packet (per element,
wrapping at 65536; the ids of a batch are reserved with one atomic add, so with several threads
pushing into the element each batch gets a consecutive run). The header checksum is computed.
The network-header annotation is set to the new header and the transport-header annotation to the
bytes after it. Dropped and counted: \`drops_no_headroom\` (less than 20 bytes of headroom; the pool's
packets start with 128) and \`drops_too_long\` (the datagram would exceed 65535 bytes). Works in push
or pull position.`,
  inputs: '1',
  outputs: '1',
  processing: 'a/a',
  config: Type.Object(
    {
      proto: Type.Integer({ minimum: 0, maximum: 255, description: 'The IP protocol of the payload (4: IPv4 in IPv4).' }),
      src: ipv4Address('The source address, dotted quad.'),
      dst: ipv4Address('The destination address, dotted quad.'),
      ...outerIp4Fields,
    },
    { additionalProperties: false },
  ),
  counters: {
    packets: 'packets encapsulated',
    drops_no_headroom: 'packets dropped because they had less than 20 bytes of headroom',
    drops_too_long: 'packets dropped because the datagram would be longer than 65535 bytes',
  },
  examples: ["IPEncap({ proto: 4, src: '198.18.0.1', dst: '198.19.0.1' }).to(EtherEncap({ type: 0x0800, src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02' }))"],
});
