import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const IPReassembler = defineElement({
  name: 'IPReassembler',
  group: 'ip',
  summary: 'Reassembles IPv4 fragments into whole datagrams (bounded memory, timeouts); other packets pass through.',
  doc: `Click's IPReassembler. Works on the IPv4 header at the network-header annotation (set by CheckIPHeader
or MarkIPHeader). A packet that is not a fragment (MF clear, offset 0) passes to the output unchanged
(counted in \`packets\`). Fragments (counted in \`fragments\` when held) are collected per datagram,
keyed by source, destination, identification and protocol; when the last fragment has come and the
held pieces cover the payload without gaps, the datagram is rebuilt in the first fragment's buffer
(its front bytes, header, options and annotations kept; total length set, MF and the offset cleared,
DF kept, header checksum recomputed; the transport-header annotation set after the header), the other
fragments are freed, and it leaves on the output (counted in \`reassembled\`, its fragments in
\`fragments_reassembled\`). Fragments may arrive in any order.

- Exact duplicates (same offset and end as a held fragment) are dropped (\`drops_duplicate\`).
- Overlaps: a fragment overlapping a held one in any other way, or inconsistent with the datagram's
  end (a second last fragment with another end, a fragment past the end, a last fragment ending
  before a held one), is taken as an attack or corruption (RFC 5722 does the same for IPv6): the
  fragment and every held fragment of the datagram are dropped (\`drops_overlap\`, per fragment;
  \`overlaps\` counts the datagrams).
- A datagram whose length would exceed 65535 bytes, or that does not fit the first fragment's pool
  buffer (the pool's buffer size bounds reassembly), is dropped with its fragments (\`drops_too_big\`,
  per fragment; \`oversized\` counts the datagrams).
- At most \`maxBytes\` bytes of fragments (their buffer lengths), \`maxDatagrams\` datagrams in progress
  and \`maxFragments\` fragments (and no more than the pool has buffers) are held; a fragment over a
  limit is dropped (\`drops_memory\`), the datagram's other fragments stay. In a virtual router
  \`maxFragments\` counts against its buffers quota (docs/virtual-routers.md), so a flood of fragments
  fills this element, never the shared pool.
- A datagram not complete \`timeout\` seconds after its first fragment came is freed (\`timeouts\`
  counts the datagrams, \`drops_timeout\` their fragments); a timer on the element's worker checks
  the oldest datagram.
- Fragments with a header that is unusable (as CheckIPHeader would see it) or, MF set, with a payload
  that is empty or not a multiple of 8 bytes, are dropped (\`drops_malformed\`).

Every packet in is counted once, when it leaves or is dropped: packets in = \`packets\` +
\`fragments_reassembled\` + the sum of the \`drops_*\` counters + the fragments held now (the graph's
held packets); packets out = \`packets\` + \`reassembled\`. \`fragments\`, \`reassembled\`, \`timeouts\`,
\`overlaps\` and \`oversized\` count events, not packets to add up.

The state is guarded by a spin lock taken once per batch, so several workers may push. Held fragments
count as held packets (the graph does not drain while datagrams are pending). Push only.`,
  inputs: '1',
  outputs: '1',
  processing: 'h/h',
  config: Type.Object(
    {
      maxBytes: Type.Optional(
        Type.Integer({ minimum: 0, maximum: 2 ** 40, default: 4 * 1024 * 1024, description: 'The most bytes of fragments held at once.' }),
      ),
      timeout: Type.Optional(
        Type.Number({ minimum: 0.001, maximum: 3600, default: 30, description: 'Seconds after its first fragment an incomplete datagram is freed.' }),
      ),
      maxFragments: Type.Optional(
        Type.Integer({ minimum: 1, maximum: 1048576, default: 1024, description: "The most fragments held at once (each holds a packet buffer: the router's buffers quota counts them)." }),
      ),
      maxDatagrams: Type.Optional(
        Type.Integer({ minimum: 1, maximum: 1048576, default: 4096, description: 'The most datagrams in reassembly at once (a preallocated table).' }),
      ),
    },
    { additionalProperties: false },
  ),
  counters: {
    packets: 'packets that are not fragments (passed through)',
    reassembled: 'datagrams reassembled and sent',
    fragments: 'fragments accepted and held (each later counted in fragments_reassembled or a drops_ counter)',
    fragments_reassembled: 'fragments that left inside a reassembled datagram',
    timeouts: 'incomplete datagrams freed after the timeout',
    overlaps: 'datagrams abandoned because a fragment overlapped or contradicted held ones (each of their fragments counts in drops_overlap)',
    oversized: 'datagrams abandoned because they exceed 65535 bytes or a pool buffer (each of their fragments counts in drops_too_big)',
    drops_overlap: 'fragments dropped because one of their datagram overlapped or contradicted held ones (the offending one and those held)',
    drops_duplicate: 'fragments dropped as exact duplicates of held ones',
    drops_too_big: 'fragments dropped because their datagram exceeds 65535 bytes or a pool buffer',
    drops_memory: 'fragments dropped because maxBytes, maxDatagrams or maxFragments was reached',
    drops_malformed: 'packets dropped because the IPv4 header is missing, short or inconsistent, or a fragment is malformed',
    drops_timeout: 'held fragments dropped because their datagram was not complete within the timeout',
  },
  quotas: { buffers: 'maxFragments' },
  examples: ["CheckIPHeader().to(IPReassembler({ timeout: 30 }, 'reasm'))"],
});
