import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const EtherSwitch = defineElement({
  name: 'EtherSwitch',
  group: 'ethernet',
  summary: 'A learning Ethernet bridge: n ports, each an input and the output of the same number.',
  doc: `Port i is input i and output i; connect as many inputs as outputs. For a frame arriving on
input i the switch learns that its source MAC address lives on port i (a source with the group bit
set, a multicast address, is never learned), then looks up its destination: a unicast address known
on another port j sends the frame to output j only; one known on port i itself is dropped (the
destination is on the segment the frame came from) and counted in \`drops_same_port\`; an unknown
address, the broadcast address or any multicast address floods the frame to every output except i
(copies come from the packet pool; a copy the pool cannot give is counted in \`drops_pool_empty\` and that
output misses the frame). A switch with one port floods to nowhere: such frames are freed.

A learned entry expires \`timeout\` seconds after the last frame from its address; an expired entry
counts as unknown (flooding) until the address sends again. The table is an open-addressing hash
table with room for \`capacity\` addresses, allocated when the graph is loaded: nothing is
allocated per packet. When it holds \`capacity\` addresses a new address is not learned (its
frames are still forwarded) and is counted in \`table_full\`; space held by expired entries is reused
(at most once a second the whole table is swept when it is full). Frames shorter than an Ethernet
header (14 bytes) are dropped and counted in \`drops_short\`.

A batch is classified as a whole (learning and lookups under one short spin lock per batch, since
ports may be pushed from several workers), then split per output: without flooding one sub-batch
per output, in arrival order; with flooding each output gets its unicast frames and flood copies in
arrival order, the original of a flooded frame going to its last output. The \`table\` handler lists
the live entries, one per line: the MAC address, the port and the age in seconds (since the last
frame from it), sorted by address.`,
  inputs: '-',
  outputs: '-',
  processing: 'h/h',
  copiesPackets: 'it floods broadcast, multicast and unknown-destination frames, a copy to every port but the one they came in on',
  config: Type.Object(
    {
      timeout: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 31536000, default: 300, description: 'Seconds after which an address not seen again is forgotten.' })),
      capacity: Type.Optional(Type.Integer({ minimum: 1, maximum: 1048576, default: 4096, description: 'Most addresses the table holds.' })),
    },
    { additionalProperties: false },
  ),
  counters: {
    forwarded: 'frames sent to the one output where their destination was learned',
    flooded: 'frames flooded (unknown, broadcast or multicast destination); counted once per frame, not per copy',
    drops_same_port: 'frames dropped because their destination was learned on the port they came in on',
    drops_short: 'frames dropped because they are shorter than an Ethernet header (14 bytes)',
    drops_pool_empty: 'flood copies dropped (not made) because the packet pool was empty',
    table_full: 'source addresses not learned because the table was full',
  },
  handlers: {
    table: { doc: 'the live entries, one per line: MAC port age-in-seconds', read: true },
    timeout: { doc: 'read or set the entry timeout in seconds', read: true, write: true },
  },
  check: (_config, ports) =>
    ports.inputs !== ports.outputs
      ? `an EtherSwitch port is an input and an output: ${ports.inputs} input(s) but ${ports.outputs} output(s) are connected; connect the same number`
      : ports.inputs === 0
        ? 'connect at least one port (input and output 0)'
        : undefined,
  examples: [
    "const sw = EtherSwitch({}, 'sw'); for (const [i, d] of ['veth0', 'veth1', 'veth2'].entries()) { FromDevice({ device: d }).to(sw.in(i)); sw.out(i).to(ToDevice({ device: d })); }",
    'pktgraph read sw.table',
  ],
});
