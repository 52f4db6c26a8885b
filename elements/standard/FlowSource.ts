import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';
import { sourcePacingFields, sourcePacingCounters, sourcePacingHandlers, sourcePacingDerived } from '../lib/sourceFields.js';
import { etherAddress, ipAddress, orEmpty } from '../../src/graph/types.js';
import { parseIPv4, parseIPv6 } from '../../src/util/address.js';

const HEADERS = { ipv4: 20, ipv6: 40, udp: 8, tcp: 20 } as const;
const DEFAULT_IP = { ipv4: { src: '198.18.0.1', dst: '198.19.0.1' }, ipv6: { src: 'fd00::1', dst: 'fd00:1::1' } } as const;

export const FlowSource = defineElement({
  name: 'FlowSource',
  group: 'standard',
  summary: 'Generates Ethernet IPv4/IPv6 UDP/TCP frames over many flows, with every checksum right: the benchmark traffic source.',
  doc: `Emits Ethernet frames carrying IPv4 or IPv6 (\`family\`) and UDP or TCP (\`protocol\`), spread
over \`flows\` flows. Every IPv4 header checksum and every UDP/TCP checksum is correct.

**Flows.** Flow *i* (0-based, \`0 <= i < flows\`) has
- source address \`srcIp + i\`, the addition done on the address's low 32 bits and wrapping within
  them (for IPv4 that is the whole address: 198.18.0.1, 198.18.0.2, ...; for IPv6 the last 32 bits);
- source port \`(srcPort + (i mod 1024)) mod 65536\`;
- the same destination port (\`dstPort\`) and Ethernet addresses, and by default the same
  destination address \`dstIp\` (see **Destinations**).

Every flow therefore has its own source address, and up to 1024 flows also differ in source port,
so RSS, fanout and 5-tuple hashes spread them. \`order\` picks the flow of each successive packet:
\`round-robin\` cycles 0, 1, ..., flows-1, 0, ...; \`random\` draws each flow uniformly.

**Destinations.** By default every packet goes to \`dstIp\`. With \`dstFlows\` > 1, packet *k*
(0-based, counted across flows since the start or the last \`reset\`) goes to \`dstIp + (k mod dstFlows)\`,
the addition done on the address's low 32 bits and wrapping within them, like the source mapping (so
\`dstFlows\` = 4294967296 with \`dstIp\` 0.0.0.0 walks the whole IPv4 space). With \`dstRandom\`, each
packet's destination is drawn uniformly from the PRNG: any 32-bit IPv4 address (\`dstIp\` is then
ignored), or for IPv6 random low 64 bits under \`dstIp\`'s /64. The destination sequence is independent
of the flow (source address and port); \`dstRandom\` and a \`dstFlows\` > 1 cannot be combined. These
spread lookups over a routing table (bench suite \`router\`).

**Lengths.** Frames are \`length\` bytes (without FCS), or with \`lengthMax\` uniformly random in
[\`length\`, \`lengthMax\`]. The headers must fit: IPv4/UDP needs 42 bytes, IPv4/TCP 54, IPv6/UDP 62,
IPv6/TCP 74, so for IPv6 give a \`length\` of at least 62 (UDP) or 74 (TCP). The payload is a fixed
pattern: byte *k* of the payload is *k* mod 256.

**Headers.** IPv4: version 4, 20-byte header, TOS 0, DF clear, TTL 64, identification counting up
from 0 per packet (across flows). IPv6: traffic class and flow label 0, hop limit 64. UDP: the
length and a checksum (never 0). TCP: a 20-byte header with \`tcpFlags\` (default ACK), window
65535, acknowledgment number 1 when ACK is set (else 0), and a sequence number counting the TCP
payload bytes this source sent before the packet (from 0, across flows; with one flow that is a
proper byte stream). The mac, network and transport header annotations are set.

**Randomness.** Random flows, lengths and destinations come from a fast PRNG (splitmix64) seeded with \`seed\`, so
a run with the same config produces the same packets.

\`burst\`, \`rate\`, \`limit\` and \`active\` work as in InfiniteSource: up to \`burst\` packets per
task round; with \`rate\` paced to that many packets per second by a token bucket \`burst\` packets
deep (a late round catches up by up to a burst; credit beyond it is counted in \`rate_shortfall\`);
with \`limit\` it stops after that many packets, and a graph whose sources have all stopped ends
once drained. The \`reset\` handler restarts the count towards the limit and
also the flow and destination sequences, the PRNG, the IPv4 ids and the TCP sequence numbers, so the output repeats
from the start. When the pool has no free buffer the round is cut short and \`pool_empty\` counts.

Speed: each packet is copied from a template prepared at configuration and patched; the checksums
are finished from precomputed partial sums (RFC 1071/1624), never summed over the frame. The destination
mode is chosen at configuration (a separate specialisation), so the default fixed destination costs nothing.`,
  inputs: '0',
  outputs: '1',
  processing: '/h',
  config: Type.Object(
    {
      family: Type.Optional(Type.Enum(['ipv4', 'ipv6'], { default: 'ipv4', description: 'Network protocol: "ipv4" or "ipv6".' })),
      protocol: Type.Optional(Type.Enum(['udp', 'tcp'], { default: 'udp', description: 'Transport protocol: "udp" or "tcp".' })),
      length: Type.Optional(
        Type.Integer({
          minimum: 60,
          maximum: 1514,
          default: 60,
          description: 'Frame length in bytes without FCS (the minimum when lengthMax is set); at least 42/54/62/74 for ipv4-udp/ipv4-tcp/ipv6-udp/ipv6-tcp.',
        }),
      ),
      lengthMax: Type.Optional(
        Type.Integer({ minimum: 0, maximum: 1514, default: 0, description: '0: every frame is `length` bytes; otherwise frame lengths are uniformly random in [length, lengthMax].' }),
      ),
      srcEther: Type.Optional(etherAddress('Source Ethernet address.', '02:00:00:00:00:01')),
      dstEther: Type.Optional(etherAddress('Destination Ethernet address.', '02:00:00:00:00:02')),
      srcIp: Type.Optional(
        orEmpty(
          ipAddress('Source address of flow 0.'),
          'Source address of flow 0, of the `family`; empty for the family default (198.18.0.1 or fd00::1). Flow i uses this + i on the low 32 bits.',
        ),
      ),
      dstIp: Type.Optional(
        orEmpty(
          ipAddress('Destination address.'),
          'Destination address (of packet 0 with dstFlows), of the `family`; empty for the family default (198.19.0.1 or fd00:1::1).',
        ),
      ),
      srcPort: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535, default: 1024, description: 'Source port of flow 0; flow i uses (srcPort + i mod 1024) mod 65536.' })),
      dstPort: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535, default: 9, description: 'Destination port of every flow.' })),
      dstFlows: Type.Optional(
        Type.Integer({
          minimum: 1,
          maximum: 4294967296,
          default: 1,
          description: 'Number of destination addresses: packet k goes to dstIp + (k mod dstFlows) on the low 32 bits; 1 for the fixed dstIp.',
        }),
      ),
      dstRandom: Type.Optional(
        Type.Boolean({ default: false, description: 'Uniformly random destinations from the PRNG: any IPv4 address, or random low 64 bits under the dstIp /64 for IPv6. Not with dstFlows > 1.' }),
      ),
      flows: Type.Optional(Type.Integer({ minimum: 1, maximum: 16777216, default: 1, description: 'Number of flows (1 to 16M).' })),
      order: Type.Optional(
        Type.Enum(['round-robin', 'random'], { default: 'round-robin', description: 'Flow of each successive packet: "round-robin" (0, 1, ..., flows-1, 0, ...) or "random" (uniform).' }),
      ),
      tcpFlags: Type.Optional(Type.Integer({ minimum: 0, maximum: 255, default: 16, description: 'TCP flag bits (FIN 1, SYN 2, RST 4, PSH 8, ACK 16, URG 32, ...); default ACK. Ignored for UDP.' })),
      seed: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, default: 1, description: 'Seed of the random generator (random order, lengths and destinations); the same seed gives the same packets.' })),
      ...sourcePacingFields,
    },
    { additionalProperties: false },
  ),
  counters: {
    packets: 'packets emitted',
    bytes: 'bytes emitted (frames without FCS)',
    ...sourcePacingCounters,
  },
  handlers: sourcePacingHandlers('start counting towards the limit again and restart the flow and destination sequences, random generator, IPv4 ids and TCP sequence numbers'),
  derived: sourcePacingDerived,
  check: (c) => {
    const family = c.family ?? 'ipv4';
    const protocol = c.protocol ?? 'udp';
    const need = 14 + HEADERS[family] + HEADERS[protocol];
    const length = c.length ?? 60;
    if (length < need)
      return `config field 'length' must be at least ${need} for ${family}/${protocol} frames (14 Ethernet + ${HEADERS[family]} ${family === 'ipv4' ? 'IPv4' : 'IPv6'} + ${HEADERS[protocol]} ${protocol.toUpperCase()} header bytes), got ${length}`;
    const lengthMax = c.lengthMax ?? 0;
    if (lengthMax !== 0 && lengthMax < length)
      return `config field 'lengthMax' must be 0 (every frame 'length' bytes) or at least 'length' (${length}), got ${lengthMax}`;
    if (c.dstRandom && (c.dstFlows ?? 1) > 1)
      return `config field 'dstRandom' cannot be combined with 'dstFlows' > 1 (got dstFlows ${c.dstFlows}): choose random or sequential destinations`;
    const isFamily = (s: string) => (family === 'ipv4' ? parseIPv4(s) : parseIPv6(s)) !== undefined;
    for (const [field, which] of [['srcIp', 'src'], ['dstIp', 'dst']] as const) {
      const v = c[field] ?? '';
      if (v !== '' && !isFamily(v))
        return `config field '${field}' must be an ${family === 'ipv4' ? 'IPv4' : 'IPv6'} address (family is ${family}; empty for ${DEFAULT_IP[family][which]}), got ${JSON.stringify(v)}`;
    }
    return undefined;
  },
  // The family's default addresses for '' (the native side reads typed addresses only).
  plan: (c) => ({ srcIp: c.srcIp || DEFAULT_IP[c.family ?? 'ipv4'].src, dstIp: c.dstIp || DEFAULT_IP[c.family ?? 'ipv4'].dst }),
  examples: [
    "FlowSource({ flows: 1000, limit: 1_000_000 }).to(Discard())",
    "FlowSource({ family: 'ipv6', protocol: 'tcp', length: 74, lengthMax: 1514, flows: 65536, order: 'random' }).to(Discard())",
    "FlowSource({ flows: 1000, dstRandom: true }).to(Strip({ length: 14 })).to(CheckIPHeader()).to(IPLookup({ file: 'routes.txt' }))",
  ],
});
