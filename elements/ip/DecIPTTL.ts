import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const DecIPTTL = defineElement({
  name: 'DecIPTTL',
  group: 'ip',
  summary: 'Decrements the IPv4 TTL, updating the header checksum incrementally; expired packets go to output 1.',
  doc: `Click's DecIPTTL. Works on the IPv4 header at the network-header annotation (set by CheckIPHeader
or MarkIPHeader). A packet with TTL 2 or more has its TTL decremented and its header checksum updated
incrementally (RFC 1624, eqn. 3: HC' = ~(~HC + ~m + m')), which gives the same checksum as a full
recomputation when the old one was right, and leaves a wrong one wrong; it leaves on output 0 and is
counted in \`packets\`. A packet with TTL 0 or 1 has expired: unchanged, it goes to output 1 when that output
exists (for an ICMP time-exceeded error; counted in \`expired\`), else it is dropped (counted in
\`drops_expired\`).
A packet whose network-header annotation is unset, or whose first 20 header bytes are not inside the
packet, is dropped and counted in \`drops_no_header\`. Output 0 works in push or pull
position (Click's \`a/ah\`); output 1 is push. Each output keeps the arrival order.`,
  inputs: '1',
  outputs: '1-2',
  processing: 'a/ah',
  config: Type.Object({}, { additionalProperties: false }),
  endsPushCycles: "it takes one from the TTL on each pass and a packet whose TTL runs out leaves by output 1 (or is dropped), so a packet goes round a routing loop through it at most 255 times, as on a real network",
  hopLimited: true,
  counters: {
    packets: 'packets whose TTL was decremented (sent to output 0)',
    expired: 'packets that arrived with TTL 0 or 1, sent to output 1',
    drops_expired: 'packets that arrived with TTL 0 or 1, dropped because output 1 does not exist',
    drops_no_header: 'packets dropped because the network-header annotation is unset or the header is not inside the packet',
  },
  examples: ["CheckIPHeader().to(DecIPTTL({}, 'ttl')); // ttl.out(1) for expired packets, optional"],
});
