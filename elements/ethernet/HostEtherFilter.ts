import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';
import { etherAddress } from '../../src/graph/types.js';

export const HostEtherFilter = defineElement({
  name: 'HostEtherFilter',
  group: 'ethernet',
  summary: 'Accepts the Ethernet frames meant for a host with address `mac`; the others go to output 1.',
  doc: `Click's HostEtherFilter(ETH, DROP_OWN, DROP_OTHER). A frame leaves on output 0 unless it is rejected:
with \`dropOwn\` (default false) a frame whose source address is \`mac\` (our own frame coming back) is
rejected (counted in \`own\`); with \`dropOther\` (default true) a unicast frame (group bit of the
destination clear) addressed to another host is rejected (counted in \`other\`). Frames to \`mac\`, to
the broadcast address and to any multicast address are accepted. Rejected frames go to output 1,
unchanged, when it is connected, else they are dropped and counted in \`drops_own\` and
\`drops_other\` instead. A frame shorter than an
Ethernet header (14 bytes) is dropped and counted in \`drops_short\`. Output 0 works in push or pull
position (Click's \`a/ah\`); output 1 is push. Each output keeps the arrival order.`,
  inputs: '1',
  outputs: '1-2',
  processing: 'a/ah',
  config: Type.Object(
    {
      mac: etherAddress("The host's Ethernet address, like 02:00:00:00:00:01."),
      dropOwn: Type.Optional(Type.Boolean({ default: false, description: 'Reject frames whose source address is `mac`.' })),
      dropOther: Type.Optional(Type.Boolean({ default: true, description: 'Reject unicast frames addressed to another host.' })),
    },
    { additionalProperties: false },
  ),
  counters: {
    drops_short: 'frames dropped because they were shorter than 14 bytes',
    own: 'frames rejected because their source is `mac` (dropOwn), sent to output 1',
    other: 'unicast frames rejected because they were for another host (dropOther), sent to output 1',
    drops_own: 'frames rejected because their source is `mac` (dropOwn), dropped because output 1 does not exist',
    drops_other: 'unicast frames for another host (dropOther), dropped because output 1 does not exist',
  },
  examples: ["FromDevice({ device: 'veth0', promisc: true }).to(HostEtherFilter({ mac: '02:00:00:00:00:01' }, 'hf')); // hf.out(1): the others, optional"],
});
