import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const SetIPChecksum = defineElement({
  name: 'SetIPChecksum',
  group: 'ip',
  summary: 'Recomputes the IPv4 header checksum.',
  doc: `Click's SetIPChecksum: recomputes (RFC 1071) the header checksum of the IPv4 header at the
network-header annotation, over IHL * 4 bytes (options included). Dropped and counted:
\`drops_no_header\` when the annotation is unset or the first 20 header bytes are not inside the
packet; \`drops_bad_header\` when IHL < 5 or the header runs past the end of the packet. Works in push
or pull position.`,
  inputs: '1',
  outputs: '1',
  processing: 'a/a',
  config: Type.Object({}, { additionalProperties: false }),
  counters: {
    drops_no_header: 'packets dropped because the network-header annotation is unset or the header is not inside the packet',
    drops_bad_header: 'packets dropped because the header length is below 20 or runs past the packet',
  },
  examples: ["MarkIPHeader().to(SetIPChecksum())"],
});
