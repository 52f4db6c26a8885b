import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';
import { ipv4Address } from '../../src/graph/types.js';

export const FixIPSrc = defineElement({
  name: 'FixIPSrc',
  group: 'ip',
  summary: "Gives packets marked with the fix-IP-source annotation (ICMPError's errors) this interface's address as their source.",
  doc: `Click's FixIPSrc(IPADDR). A packet carrying the fix-IP-source annotation, which ICMPError sets on every
error it makes, gets \`address\` as its IPv4 source (the header at the network-header annotation), the
header checksum updated incrementally (RFC 1624, eqn. 3: a right checksum stays right) and the
annotation cleared; it is counted in \`fixed\`. Put one on each interface's output path, so that an
error generated anywhere in the router leaves with the address of the interface it leaves by (what
traceroute shows), whatever \`src\` its ICMPError was given. Every other packet passes untouched (one
flag tested). A marked packet whose network-header annotation is unset or whose 20 header bytes are
not inside the packet is dropped and counted in \`drops_no_header\`. Works in push or pull position.`,
  inputs: '1',
  outputs: '1',
  processing: 'a/a',
  config: Type.Object(
    {
      address: ipv4Address("This interface's IPv4 address: the source given to marked packets."),
    },
    { additionalProperties: false },
  ),
  counters: {
    drops_no_header: 'marked packets dropped because their IPv4 header is not inside the packet',
    fixed: 'packets whose source address was set (the annotation then cleared)',
  },
  examples: ["DecIPTTL({}, 'ttl').out(1).to(ICMPError({ src: '192.0.2.1', type: 'timeexceeded' })); // ... -> FixIPSrc({ address: '198.51.100.1' }) on the way out"],
});
