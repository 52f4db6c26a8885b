import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const DecIP6HLIM = defineElement({
  name: 'DecIP6HLIM',
  group: 'ip6',
  summary: 'Decrements the IPv6 hop limit; expired packets go to output 1.',
  doc: `Click's DecIP6HLIM, the IPv6 counterpart of DecIPTTL. Works on the IPv6 header at the network-header
annotation (set by CheckIP6Header, or by FromPcap on a raw-IP file). A packet with hop limit 2 or more has it
decremented (IPv6 has no header checksum, so nothing else changes); it leaves on output 0 and is counted in
\`packets\`. A packet with hop limit 0 or 1 has expired: unchanged, it goes to output 1 when that output exists
(for an ICMPv6 time-exceeded error from ICMP6Error; counted in \`expired\`), else it is dropped (counted
in \`drops_expired\`).
A packet whose network-header annotation is unset, or whose 40-byte header is not inside the packet, is
dropped and counted in \`drops_no_header\`. The version is not checked (CheckIP6Header does that). Output
0 works in push or pull position (Click's \`a/ah\`); output 1 is push. Each output keeps the arrival order.`,
  inputs: '1',
  outputs: '1-2',
  processing: 'a/ah',
  config: Type.Object({}, { additionalProperties: false }),
  endsPushCycles: "it takes one from the hop limit on each pass and a packet whose hop limit runs out leaves by output 1 (or is dropped), so a packet goes round a routing loop through it at most 255 times, as on a real network",
  hopLimited: true,
  counters: {
    packets: 'packets whose hop limit was decremented (sent to output 0)',
    expired: 'packets that arrived with hop limit 0 or 1, sent to output 1',
    drops_expired: 'packets that arrived with hop limit 0 or 1, dropped because output 1 does not exist',
    drops_no_header: 'packets dropped because the network-header annotation is unset or the 40-byte header is not inside the packet',
  },
  examples: ["CheckIP6Header().to(DecIP6HLIM({}, 'hlim')); // hlim.out(1).to(ICMP6Error({ src: 'fd00::1', type: 3, code: 0 })), optional"],
});
