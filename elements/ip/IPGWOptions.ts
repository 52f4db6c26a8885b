import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';
import { ipv4Address } from '../../src/graph/types.js';

export const IPGWOptions = defineElement({
  name: 'IPGWOptions',
  group: 'ip',
  summary: 'Processes the IPv4 options a router must handle (Record Route, Timestamp); bad options go to output 1.',
  doc: `Click's IPGWOptions(MYADDR [, OTHERADDRS]). Works on the IPv4 header at the network-header
annotation (set by CheckIPHeader or MarkIPHeader), on the forwarding path of one interface, before
DecIPTTL. A packet without options (IHL 5) passes untouched, with one byte compared. Otherwise the
options are walked (RFC 791, RFC 1812 5.2.4):

- End of list stops the walk; No operation is skipped; every other option needs a length byte of at
  least 2 that keeps it inside the header.
- Record Route (7): with room left (pointer + 3 <= length), \`address\` is written at the pointer and
  the pointer advanced by 4. A full option is left as it is (the datagram is forwarded).
- Timestamp (68): flag 0 writes the time, flag 1 \`address\` and the time, flag 3 the time only when
  the prespecified address at the pointer is \`address\` or one of \`otherAddresses\`; the pointer
  advances by 4 or 8. The time is milliseconds since midnight UT (the worker's wall clock, read once
  per batch), in network byte order. Without room, the overflow count (the high 4 bits of the flag
  byte) is incremented instead.
- Other options (security, source routes, ...) are skipped, not acted on: this element does not
  source-route.

A rewritten header gets its checksum recomputed (counted in \`rewritten\`). Packets leaving on output
0 are counted in \`packets\`. A bad option (a length below 2 or running past the header, a Record
Route pointer below 4, a Timestamp pointer below 5, Timestamp flag 2 or above 3, or a Timestamp
overflow count that would pass 15) sends the packet, unchanged, to output 1 with the
parameter-problem annotation set to the offset of the offending byte from the start of the IPv4
header (the length byte, the pointer or the flag byte; the option's first byte when its length byte
is missing), so that
\`ICMPError({ type: 'parameterproblem' })\` answers with that pointer; it is counted in \`bad_options\`; without
output 1 it is dropped and counted in \`drops_bad_options\`. A packet whose network-header annotation is
unset, whose version is not 4, whose IHL is below 5 or whose header runs past the packet is
dropped and counted in \`drops_no_header\`. Push or pull on output 0, as Click's (output 1 is push); a
batch with bad packets is split between the two outputs, each keeping the arrival order.`,
  inputs: '1',
  outputs: '1-2',
  processing: 'a/ah',
  config: Type.Object(
    {
      address: ipv4Address("This router's address on the interface: what Record Route and Timestamp (flag 1) write."),
      otherAddresses: Type.Optional(
        Type.Array(ipv4Address('An IPv4 address.'), {
          default: [],
          description: "The router's other addresses, also recognised in prespecified Timestamp options (flag 3).",
        }),
      ),
    },
    { additionalProperties: false },
  ),
  counters: {
    packets: 'packets sent on output 0 (with or without options)',
    rewritten: 'packets whose Record Route or Timestamp option was filled in (checksum recomputed)',
    bad_options: 'packets with a bad option, sent to output 1 with the pointer annotation',
    drops_bad_options: 'packets with a bad option, dropped because output 1 does not exist',
    drops_no_header: 'packets dropped because the network-header annotation is unset or the IPv4 header is not inside the packet',
  },
  examples: [
    "const gw = CheckIPHeader().to(IPGWOptions({ address: '192.0.2.1' }, 'gw')); gw.out(1).to(ICMPError({ src: '192.0.2.1', type: 'parameterproblem' }))",
  ],
});
