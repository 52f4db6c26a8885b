import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const Truncate = defineElement({
  name: 'Truncate',
  group: 'standard',
  summary: 'Shortens packets to at most a number of bytes.',
  doc: `Click's Truncate(LENGTH): a packet longer than \`length\` bytes loses its bytes past \`length\`;
shorter packets pass unchanged. Nothing is dropped (\`length\` 0 leaves empty packets). The header
annotations are kept as they are, even if they now point past the end: elements that read a header
check it lies inside the packet. pktgraph has no extra-length annotation, so Click's EXTRA_LENGTH
keyword has no counterpart. Works in push or pull position.`,
  inputs: '1',
  outputs: '1',
  processing: 'a/a',
  config: Type.Object(
    { length: Type.Integer({ minimum: 0, maximum: 65535, description: 'The most bytes a packet keeps.' }) },
    { additionalProperties: false },
  ),
  counters: {},
  examples: ["FromPcap({ file: 'in.pcap' }).to(Truncate({ length: 96 })).to(ToPcap({ file: 'heads.pcap' }))"],
});
