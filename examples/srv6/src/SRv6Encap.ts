import { defineElement, pluginLibrary, schema, Type } from 'pktgraph';

export const SRv6Encap = defineElement({
  name: 'SRv6Encap',
  group: 'srv6',
  library: pluginLibrary(import.meta.url, '../build/Release/srv6.node'),
  summary: 'SRv6 headend: RFC 8986 H.Encaps (or H.Encaps.Red) of IPv4 or IPv6 packets into IPv6 with an SRH.',
  doc: `The input is an IP packet (IPv4 or IPv6, by its version; the data starts at its header, as after
Strip(14)). It is put inside an outer IPv6 header from \`src\` to the first of \`segments\`, with an
RFC 8754 Segment Routing Header listing the path: Segment List[0] is the last segment, Segments Left
and Last Entry are n - 1, the SRH's Next Header is 4 (IPv4) or 41 (IPv6). The outer traffic class is
the inner packet's, the flow label 0, the hop limit \`hopLimit\`.

With \`reduced\` (H.Encaps.Red, RFC 8986 5.2) the SRH leaves out the first segment, which is already
the destination address (Last Entry n - 2, Segments Left n - 1), and a policy of one segment gets no
SRH at all. The outer header and SRH are built once, at configuration; a packet costs one copy.

The inner packet's length is its own header's (Ethernet padding after it is cut off). Dropped: a
packet that is not IPv4 or IPv6 (\`drops_not_ip\`), shorter than its header says
(\`drops_short\`), or without the headroom for the new headers (\`drops_headroom\`: 40 + 8 + 16 per
listed segment bytes; the engine's default headroom, 128 bytes plus a stripped Ethernet header, fits
five segments).`,
  inputs: '1',
  outputs: '1',
  processing: 'h/h',
  config: Type.Object(
    {
      src: schema.ipv6Address('source address of the outer IPv6 header'),
      segments: Type.Array(schema.ipv6Address('a segment (SID)'), { minItems: 1, maxItems: 16, description: 'the segments in the order the packet visits them; the first is the outer destination' }),
      reduced: Type.Optional(Type.Boolean({ default: false, description: 'H.Encaps.Red: leave the first segment out of the SRH' })),
      hopLimit: Type.Optional(Type.Integer({ minimum: 1, maximum: 255, default: 64, description: 'the outer hop limit' })),
    },
    { additionalProperties: false },
  ),
  counters: {
    packets: 'packets encapsulated',
    drops_not_ip: 'dropped: neither IPv4 nor IPv6',
    drops_short: 'dropped: shorter than its IP header or its length field says',
    drops_headroom: 'dropped: not enough headroom in front of the packet for the outer headers (or more than 65535 bytes after them)',
  },
  examples: [
    "Strip(14).to(SRv6Encap({ src: 'fd00:1::1', segments: ['fd00:2::1', 'fd00:3::6'] })).to(EtherEncap({ type: 0x86dd, src, dst }))",
  ],
});
