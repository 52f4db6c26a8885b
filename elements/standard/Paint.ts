import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const Paint = defineElement({
  name: 'Paint',
  group: 'standard',
  summary: "Sets each packet's paint annotation to a colour.",
  doc: `Sets the paint annotation of every packet passing through to \`color\` and passes it on
unchanged otherwise. PaintSwitch routes on the colour (and other elements may read it, e.g. to
remember which interface a packet came in on). Works in push or pull position.`,
  inputs: '1',
  outputs: '1',
  processing: 'a/a',
  config: Type.Object(
    {
      color: Type.Integer({ minimum: 0, maximum: 255, description: 'The colour, 0 to 255.' }),
    },
    { additionalProperties: false },
  ),
  counters: {},
  examples: ["FromPcap({ file: 'in.pcap' }).to(Paint({ color: 2 })).to(Print({ label: 'painted' })).to(Discard())"],
});
