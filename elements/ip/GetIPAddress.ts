import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const GetIPAddress = defineElement({
  name: 'GetIPAddress',
  group: 'ip',
  summary: 'Copies the 4 bytes at a packet offset into the destination-address annotation.',
  doc: `Click's GetIPAddress(OFFSET): the 4 bytes at data + \`offset\` become the IPv4 destination-address
annotation (as they are, in network byte order), which IPLookup then routes on. With the data at the
IPv4 header, offset 16 is the destination address (30 on a bare Ethernet frame). A packet shorter than
\`offset\` + 4 bytes is dropped and counted in \`drops_short\`. Works in push or pull position.`,
  inputs: '1',
  outputs: '1',
  processing: 'a/a',
  config: Type.Object(
    {
      offset: Type.Integer({ minimum: 0, maximum: 65535, description: 'Bytes from the packet data to the address (16: the IPv4 destination when the data starts at the IP header).' }),
    },
    { additionalProperties: false },
  ),
  counters: { drops_short: 'packets dropped because they end before offset + 4 bytes' },
  examples: ["Strip({ length: 14 }).to(GetIPAddress({ offset: 16 })).to(IPLookup({ routes: ['default 0'] }))"],
});
