import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const SetTCPChecksum = defineElement({
  name: 'SetTCPChecksum',
  group: 'ip',
  summary: 'Recomputes the TCP checksum of TCP packets over IPv4, with the pseudo-header.',
  doc: `Click's SetTCPChecksum: recomputes the TCP checksum over the IPv4 pseudo-header and the whole
segment. The IPv4 header is at the network-header annotation; the segment starts at the
transport-header annotation (or, when it is unset, after the IPv4 header). The segment runs to the
end of the datagram (the IP total length) and must hold at least 20 bytes (else \`drops_short\`).
Dropped and counted: \`drops_no_header\` when the network-header annotation is unset or the first 20
header bytes are not inside the packet; \`drops_bad_header\` when IHL < 5, the total length is below
the header length or past the packet, or the transport header is not between the end of the fixed
header and the end of the datagram; \`drops_not_tcp\` when the protocol is not TCP (6);
\`drops_fragment\` for fragments (more-fragments set or a non-zero offset), whose checksum covers bytes
not in the packet; \`drops_short\` as above. Works in push or pull position.`,
  inputs: '1',
  outputs: '1',
  processing: 'a/a',
  config: Type.Object({}, { additionalProperties: false }),
  counters: {
    drops_no_header: 'packets dropped because the network-header annotation is unset or the header is not inside the packet',
    drops_bad_header: 'packets dropped because the IPv4 header or total length is inconsistent, or the transport header is outside the datagram',
    drops_not_tcp: 'packets dropped because the IP protocol is not TCP',
    drops_fragment: 'packets dropped because they are IP fragments',
    drops_short: 'packets dropped because the TCP segment is too short',
  },
  examples: ["CheckIPHeader().to(SetTCPChecksum())"],
});
