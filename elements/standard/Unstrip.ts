import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const Unstrip = defineElement({
  name: 'Unstrip',
  group: 'standard',
  summary: 'Adds a fixed number of bytes back at the front of each packet.',
  doc: `Moves each packet's start \`length\` bytes towards the buffer's beginning, into its headroom.
The bytes added are whatever the headroom holds: after \`Strip\` of the same length they are the
bytes it removed, so \`Strip\` then \`Unstrip\` restores the packet exactly. A packet whose headroom is
smaller than \`length\` is dropped and counted in \`drops_no_headroom\` (the engine's packets start
with 128 bytes of headroom). Works in push or pull position; pulled, it returns only the packets
that survive.`,
  inputs: '1',
  outputs: '1',
  processing: 'a/a',
  config: Type.Object(
    {
      length: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535, default: 14, description: 'Bytes to add back at the front.' })),
    },
    { additionalProperties: false },
  ),
  counters: { drops_no_headroom: 'packets dropped because their headroom was smaller than length' },
  examples: ['Strip({ length: 14 }).to(Unstrip({ length: 14 }))'],
});
