import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const CheckLength = defineElement({
  name: 'CheckLength',
  group: 'standard',
  summary: 'Sends packets longer than a length to output 1 (or drops them); the rest to output 0.',
  doc: `Click's CheckLength(LENGTH). A packet of at most \`length\` bytes (from its data start) leaves on output 0
unchanged. A longer one leaves, unchanged, on output 1 when that output exists (counted in
\`too_long\`), else it is dropped (counted in \`drops_too_long\`). In a router, after the Ethernet header is stripped, it checks datagrams
against a link's MTU, e.g. in front of ICMP6Error's packet too big (IPv6 routers do not fragment).
Output 0 works in push or pull position (Click's \`a/ah\`); output 1 is push. Each output keeps the
arrival order.`,
  inputs: '1',
  outputs: '1-2',
  processing: 'a/ah',
  config: Type.Object(
    {
      length: Type.Integer({ minimum: 0, maximum: 1073741824, description: 'The most bytes a packet may have to leave on output 0.' }),
    },
    { additionalProperties: false },
  ),
  counters: {
    too_long: 'packets longer than length, sent to output 1',
    drops_too_long: 'packets longer than length, dropped because output 1 does not exist',
  },
  examples: ["Strip({ length: 14 }).to(CheckLength({ length: 1500 }, 'mtu')); // mtu.out(1).to(ICMP6Error({ src: 'fd00::1', type: 2, mtu: 1500 }))"],
});
