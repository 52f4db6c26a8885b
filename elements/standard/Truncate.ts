import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const Truncate = defineElement({
  name: 'Truncate',
  group: 'standard',
  summary: 'Shortens packets to at most a number of bytes.',
  doc: `Click's Truncate(LENGTH, EXTRA_LENGTH): a packet longer than \`length\` bytes loses its bytes past
\`length\`; shorter packets pass unchanged. Nothing is dropped (\`length\` 0 leaves empty packets). The
header annotations are kept as they are, even if they now point past the end: elements that read a
header check it lies inside the packet.

With \`extraLength\` (the default, as Click's EXTRA_LENGTH true) the bytes cut off are added to the
packet's extra-length annotation, so ToPcap records the original length beside the bytes kept, as
tcpdump's snap length does (\`tcpdump -r\` shows the whole length); with \`extraLength: false\` the
packet is just shorter. Works in push or pull position.`,
  inputs: '1',
  outputs: '1',
  processing: 'a/a',
  config: Type.Object(
    {
      length: Type.Integer({ minimum: 0, maximum: 65535, description: 'The most bytes a packet keeps.' }),
      extraLength: Type.Optional(
        Type.Boolean({ default: true, description: "Add the bytes cut off to the extra-length annotation (ToPcap's original length), as Click's EXTRA_LENGTH." }),
      ),
    },
    { additionalProperties: false },
  ),
  counters: {},
  examples: ["FromPcap({ file: 'in.pcap' }).to(Truncate({ length: 96 })).to(ToPcap({ file: 'heads.pcap' }))"],
});
