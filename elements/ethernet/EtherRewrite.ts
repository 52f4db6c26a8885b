import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';
import { etherAddress } from '../../src/graph/types.js';

export const EtherRewrite = defineElement({
  name: 'EtherRewrite',
  group: 'ethernet',
  summary: 'Overwrites the source and destination Ethernet addresses.',
  doc: `Click's EtherRewrite(SRC, DST): sets the destination address of each Ethernet frame to \`dst\` and
its source address to \`src\`; the rest of the frame (tags, EtherType, payload) is unchanged. A frame
shorter than an Ethernet header (14 bytes) is dropped and counted in \`drops_short\`. Works in push or
pull position.`,
  inputs: '1',
  outputs: '1',
  processing: 'a/a',
  config: Type.Object(
    {
      src: etherAddress('The new source Ethernet address, like 02:00:00:00:00:01.'),
      dst: etherAddress('The new destination Ethernet address, like 02:00:00:00:00:02.'),
    },
    { additionalProperties: false },
  ),
  counters: { drops_short: 'frames dropped because they were shorter than 14 bytes' },
  examples: ["EtherRewrite({ src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02' })"],
});
