import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const PaintTee = defineElement({
  name: 'PaintTee',
  group: 'standard',
  summary: 'Passes every packet on output 0, and a copy of those painted a colour on output 1.',
  doc: `Click's PaintTee(COLOR). Every packet leaves unchanged on output 0; a packet whose paint
annotation is \`color\` also has a copy (bytes and annotations, as Tee copies) sent on output 1, pushed
before the originals. Click's use: send ICMP redirects for packets routed back out of the interface
they came in by (Paint on input, PaintTee on the way out, ICMPError on output 1). Click's ANNO
argument (another one-byte annotation) has no counterpart: the paint annotation is the only one.
When the pool has no buffer for a copy, the copy is not made and counted in \`drops_pool_empty\`; the
original still passes. Push only.`,
  inputs: '1',
  outputs: '2',
  processing: 'h/h',
  copiesPackets: 'it sends a copy of each packet painted its colour to output 1, beside the packet on output 0',
  config: Type.Object(
    { color: Type.Integer({ minimum: 0, maximum: 255, description: 'The paint whose packets are copied to output 1.' }) },
    { additionalProperties: false },
  ),
  counters: {
    copies: 'copies sent on output 1',
    drops_pool_empty: 'copies dropped (not made) because the packet pool was empty',
  },
  examples: ["const pt = PaintTee({ color: 1 }, 'pt'); // pt.out(1).to(ICMPError({ src: '198.18.0.1', type: 5, code: 1 }))"],
});
