import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';
import { ipv4Address } from '../../src/graph/types.js';

export const SetIPAddress = defineElement({
  name: 'SetIPAddress',
  group: 'ip',
  summary: 'Sets the destination-address annotation to a fixed IPv4 address.',
  doc: `Click's SetIPAddress(ADDR): every packet's IPv4 destination-address annotation becomes \`address\`
(IPLookup routes on the annotation when it is set, ahead of the header's destination). The packet's
bytes are not changed. Works in push or pull position.`,
  inputs: '1',
  outputs: '1',
  processing: 'a/a',
  config: Type.Object(
    {
      address: ipv4Address('The IPv4 address to set, dotted quad.'),
    },
    { additionalProperties: false },
  ),
  counters: {},
  examples: ["SetIPAddress({ address: '192.0.2.1' }).to(IPLookup({ routes: ['192.0.2.0/24 1', 'default 0'] }))"],
});
