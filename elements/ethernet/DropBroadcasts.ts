import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const DropBroadcasts = defineElement({
  name: 'DropBroadcasts',
  group: 'ethernet',
  summary: 'Drops Ethernet frames sent to the broadcast address.',
  doc: `Click's DropBroadcasts, deciding by the frame itself: Click's looks at a packet-type annotation set by
its device elements, which pktgraph does not have, so here a frame whose destination address is
ff:ff:ff:ff:ff:ff is dropped and counted in \`drops_broadcast\`. Multicast frames (group bit set, other
addresses) pass. A frame shorter than an Ethernet header (14 bytes) is dropped and counted in
\`drops_short\`. Works in push or pull position.`,
  inputs: '1',
  outputs: '1',
  processing: 'a/a',
  config: Type.Object({}, { additionalProperties: false }),
  counters: {
    drops_short: 'frames dropped because they were shorter than 14 bytes',
    drops_broadcast: 'frames dropped because they were sent to ff:ff:ff:ff:ff:ff',
  },
  examples: ['FromDevice({ device: \'veth0\' }).to(DropBroadcasts()).to(Queue())'],
});
