import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const DropBroadcasts = defineElement({
  name: 'DropBroadcasts',
  group: 'ethernet',
  summary: 'Drops packets that arrived as link-level broadcast or multicast (by the packet-type annotation).',
  doc: `Click's DropBroadcasts: a router must not forward link-level broadcasts (RFC 1812 4.2.2.11,
5.3.4). It reads the packet-type annotation (\`native/packet.h\`), not the packet's bytes, so it works
anywhere after the device, including after Strip where Click places it. FromDevice sets the annotation
from the kernel's verdict; FromPcap and Tap derive it from the Ethernet destination (ff:ff:ff:ff:ff:ff
is broadcast, any other address with the group bit set is multicast). A packet marked broadcast or
multicast is dropped and counted in \`drops_broadcast\` or \`drops_multicast\`, as in Click, which drops
both; every other packet (host, other host, outgoing, and packets made inside the graph, which are host)
passes unchanged, in order.

With output 1 connected, the broadcast and multicast packets go there instead (counted in
\`diverted\`), as Click's optional second output does. Output 0 works in push or pull position; output 1
is push.`,
  inputs: '1',
  outputs: '1-2',
  processing: 'a/ah',
  config: Type.Object({}, { additionalProperties: false }),
  counters: {
    drops_broadcast: 'packets dropped because they arrived as link-level broadcast',
    drops_multicast: 'packets dropped because they arrived as link-level multicast',
    diverted: 'broadcast and multicast packets sent to output 1 (when it is connected)',
  },
  examples: ["FromDevice({ device: 'veth0' }).to(Strip({ length: 14 })).to(DropBroadcasts()).to(CheckIPHeader())"],
});
