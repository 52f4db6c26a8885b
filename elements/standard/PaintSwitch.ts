import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const PaintSwitch = defineElement({
  name: 'PaintSwitch',
  group: 'standard',
  summary: 'Sends each packet to the output numbered by its paint annotation.',
  doc: `A packet painted colour K (see Paint) leaves on output K. A packet whose colour has no
output (K at or past the number of outputs) is dropped and counted in \`drops_no_output\`.
Each batch is split into one sub-batch per output, each pushed once, packets keeping their order.`,
  inputs: '1',
  outputs: '-',
  processing: 'h/h',
  config: Type.Object({}, { additionalProperties: false }),
  counters: { drops_no_output: 'packets dropped because no output has their colour' },
  examples: ["const ps = PaintSwitch(); FromPcap({ file: 'a.pcap' }).to(Paint({ color: 0 })).to(ps); FromPcap({ file: 'b.pcap' }).to(Paint({ color: 1 })).to(ps); ps.out(0).to(ToPcap({ file: 'from-a.pcap' })); ps.out(1).to(ToPcap({ file: 'from-b.pcap' }))"],
});
