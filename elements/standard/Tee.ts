import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const Tee = defineElement({
  name: 'Tee',
  group: 'standard',
  summary: 'Copies each packet to every output.',
  doc: `Output 0 gets the original packet; every other output gets a copy made from the packet pool:
the same bytes, length and annotations, at the same offset in its buffer (bytes in front of the
data that a header annotation points to, such as a stripped link header, are copied too). Copies
are made a batch at a time and pushed before the originals. When the pool has no buffer for a
copy, that output does not get the packet and \`drops_pool_empty\` counts the missing copy.
Tee is push only; the number of outputs is the number connected (at least one).`,
  inputs: '1',
  outputs: '1-',
  processing: 'h/h',
  copiesPackets: 'it sends a copy of each packet to every output',
  config: Type.Object({}, { additionalProperties: false }),
  counters: {
    packets: 'packets received',
    copies: 'copies made (for outputs 1 and up)',
    drops_pool_empty: 'copies dropped (not made) because the packet pool was empty',
  },
  examples: ["const t = FromPcap({ file: 'in.pcap' }).to(Tee()); t.out(0).to(ToPcap({ file: 'copy.pcap' })); t.out(1).to(Counter()).to(Discard())"],
});
