import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const SetIPDSCP = defineElement({
  name: 'SetIPDSCP',
  group: 'ip',
  summary: 'Sets the DSCP field of the IPv4 header, updating the header checksum incrementally.',
  doc: `Click's SetIPDSCP(DSCP): the upper six bits of the TOS byte of the IPv4 header at the
network-header annotation become \`dscp\`; the two ECN bits are kept. The header checksum is updated
incrementally (RFC 1624). A packet whose network-header annotation is unset, or whose first 20 header
bytes are not inside the packet, is dropped and counted in \`drops_no_header\`. Works in push or pull
position.`,
  inputs: '1',
  outputs: '1',
  processing: 'a/a',
  config: Type.Object(
    {
      dscp: Type.Integer({ minimum: 0, maximum: 63, description: 'The DSCP value, 0 to 63 (46: expedited forwarding).' }),
    },
    { additionalProperties: false },
  ),
  counters: { drops_no_header: 'packets dropped because the network-header annotation is unset or the header is not inside the packet' },
  examples: ["CheckIPHeader().to(SetIPDSCP({ dscp: 46 }))"],
});
