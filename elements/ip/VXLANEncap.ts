import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';
import { ipv4Address } from '../../src/graph/types.js';
import { outerIp4Fields } from '../lib/encapFields.js';

export const VXLANEncap = defineElement({
  name: 'VXLANEncap',
  group: 'ip',
  summary: 'Encapsulates Ethernet frames in VXLAN over UDP/IPv4 (RFC 7348).',
  doc: `Puts 36 bytes of headers in front of each Ethernet frame: IPv4 (protocol 17, \`src\` to \`dst\`, TOS
\`tos\`, TTL \`ttl\`, don't-fragment if \`df\`, id increasing by one per packet as in IPEncap, header
checksum computed), UDP to port \`dport\` (4789, the IANA port, by default) and the 8-byte VXLAN header
(I flag set, VNI \`vni\`). The UDP source port is a hash of the inner frame's flow fields (Ethernet
addresses and type, and for IPv4 the protocol, addresses and TCP/UDP ports) in 49152-65535, so
that the frames of one flow take one path through ECMP networks (RFC 7348 section 5). The UDP
checksum is 0 (RFC 7348 recommends it) unless \`checksum\` is set. The network- and
transport-header annotations point at the outer IPv4 and UDP headers. Dropped and counted:
\`drops_short\` (frames shorter than an Ethernet header), \`drops_no_headroom\` (less than 36 bytes of
headroom), \`drops_too_long\` (the datagram would exceed 65535 bytes). Works in push or pull position.
VXLANDecap undoes it.`,
  inputs: '1',
  outputs: '1',
  processing: 'a/a',
  config: Type.Object(
    {
      src: ipv4Address('The outer source address (the local VTEP), dotted quad.'),
      dst: ipv4Address('The outer destination address (the remote VTEP), dotted quad.'),
      vni: Type.Integer({ minimum: 0, maximum: 0xffffff, description: 'The 24-bit VXLAN network identifier.' }),
      dport: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535, default: 4789, description: 'The UDP destination port.' })),
      checksum: Type.Optional(Type.Boolean({ default: false, description: 'Compute the outer UDP checksum (default: 0, none, as RFC 7348 recommends).' })),
      ...outerIp4Fields,
    },
    { additionalProperties: false },
  ),
  counters: {
    packets: 'frames encapsulated',
    drops_no_headroom: 'frames dropped because they had less than 36 bytes of headroom',
    drops_too_long: 'frames dropped because the datagram would be longer than 65535 bytes',
    drops_short: 'frames dropped because they are shorter than an Ethernet header',
  },
  examples: ["VXLANEncap({ src: '198.18.0.1', dst: '198.19.0.1', vni: 42 }).to(EtherEncap({ type: 0x0800, src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02' }))"],
});
