import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const Strip = defineElement({
  name: 'Strip',
  group: 'standard',
  summary: 'Removes a fixed number of bytes from the front of each packet.',
  doc: `Removes \`length\` bytes from the front of every packet (for example \`Strip({ length: 14 })\`
takes off an Ethernet header). The bytes stay in the buffer as headroom, so \`Unstrip\` with the
same length puts them back unchanged. A packet shorter than \`length\` is dropped and counted in
\`drops_short\`. Works in push or pull position; pulled, it returns only the packets that survive.`,
  inputs: '1',
  outputs: '1',
  processing: 'a/a',
  config: Type.Object(
    {
      length: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535, default: 14, description: 'Bytes to remove from the front.' })),
    },
    { additionalProperties: false },
  ),
  counters: { drops_short: 'packets dropped because they were shorter than length' },
  examples: ["FromPcap({ file: 'in.pcap' }).to(Strip({ length: 14 })).to(ToPcap({ file: 'ip.pcap', linktype: 101 }))"],
});
