import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const MarkIPHeader = defineElement({
  name: 'MarkIPHeader',
  group: 'ip',
  summary: 'Sets the network and transport header annotations to an IPv4 header at a fixed offset, without checking it.',
  doc: `Click's MarkIPHeader(OFFSET): the network-header annotation becomes data + \`offset\` and the
transport-header annotation network header + IHL * 4, with no check of the header's contents (use
CheckIPHeader for that): the transport header may lie past the end of a malformed packet, and
elements that read it check their bounds. A packet shorter than \`offset\` + 20 bytes cannot hold an
IPv4 header there: it is dropped and counted in \`drops_short\` (Click would mark it anyway).
Works in push or pull position.`,
  inputs: '1',
  outputs: '1',
  processing: 'a/a',
  config: Type.Object(
    {
      offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 4096, default: 0, description: 'Bytes from the packet data to the IPv4 header.' })),
    },
    { additionalProperties: false },
  ),
  counters: { drops_short: 'packets dropped because they are shorter than offset + 20 bytes' },
  examples: ["FromPcap({ file: 'in.pcap' }).to(MarkIPHeader({ offset: 14 })).to(DecIPTTL())"],
});
