import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const HashSwitch = defineElement({
  name: 'HashSwitch',
  group: 'standard',
  summary: 'Sends each packet to an output chosen by a hash of some of its bytes.',
  doc: `Hashes the \`length\` bytes at \`offset\` in the packet (64-bit FNV-1a with a final mix) and
sends the packet to output hash mod n, so packets with the same bytes there (the same flow, for
addresses and ports) always take the same output. Packets shorter than \`offset\` + \`length\` are
dropped and counted in \`drops_short\`. For IPv4 over Ethernet, offset 26 length 8 hashes the
source and destination addresses. A batch is split into one sub-batch per output, pushed once each.`,
  inputs: '1',
  outputs: '1-',
  processing: 'h/h',
  config: Type.Object(
    {
      offset: Type.Integer({ minimum: 0, maximum: 65535, description: 'Offset of the hashed bytes from the start of the packet data.' }),
      length: Type.Integer({ minimum: 1, maximum: 65535, description: 'Number of bytes hashed.' }),
    },
    { additionalProperties: false },
  ),
  counters: { drops_short: 'packets dropped because they end before offset + length' },
  examples: ["const hs = FromPcap({ file: 'in.pcap' }).to(HashSwitch({ offset: 26, length: 8 })); hs.out(0).to(ToPcap({ file: 'a.pcap' })); hs.out(1).to(ToPcap({ file: 'b.pcap' }))"],
});
