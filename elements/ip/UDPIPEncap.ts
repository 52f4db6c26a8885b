import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';
import { ipv4Address } from '../../src/graph/types.js';
import { outerIp4Fields } from '../lib/encapFields.js';

export const UDPIPEncap = defineElement({
  name: 'UDPIPEncap',
  group: 'ip',
  summary: 'Prepends IPv4 and UDP headers (28 bytes) with correct lengths and checksums.',
  doc: `Click's UDPIPEncap(SRC, SPORT, DST, DPORT, CHECKSUM): puts a 20-byte IPv4 header (protocol 17,
\`src\` to \`dst\`, TOS \`tos\`, TTL \`ttl\`, don't-fragment if \`df\`, id increasing by one per packet as in
IPEncap, header checksum computed) and an 8-byte UDP header (\`sport\` to \`dport\`, length) in front of
each packet. With \`checksum\` (the default) the UDP checksum over the pseudo-header, the UDP header
and the payload is computed (a result of 0 is sent as 0xffff, RFC 768); without it the field is 0
(no checksum). Sets the network- and transport-header annotations. Dropped and counted:
\`drops_no_headroom\` (less than 28 bytes of headroom) and \`drops_too_long\` (the datagram would exceed
65535 bytes). Works in push or pull position.`,
  inputs: '1',
  outputs: '1',
  processing: 'a/a',
  config: Type.Object(
    {
      src: ipv4Address('The source address, dotted quad.'),
      sport: Type.Integer({ minimum: 0, maximum: 65535, description: 'The UDP source port.' }),
      dst: ipv4Address('The destination address, dotted quad.'),
      dport: Type.Integer({ minimum: 0, maximum: 65535, description: 'The UDP destination port.' }),
      checksum: Type.Optional(Type.Boolean({ default: true, description: 'Compute the UDP checksum (false: send 0, no checksum).' })),
      ...outerIp4Fields,
    },
    { additionalProperties: false },
  ),
  counters: {
    packets: 'packets encapsulated',
    drops_no_headroom: 'packets dropped because they had less than 28 bytes of headroom',
    drops_too_long: 'packets dropped because the datagram would be longer than 65535 bytes',
  },
  examples: ["UDPIPEncap({ src: '198.18.0.1', sport: 5000, dst: '198.19.0.1', dport: 6000 }).to(EtherEncap({ type: 0x0800, src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02' }))"],
});
