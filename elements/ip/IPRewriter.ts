import { Type, type Static } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';
import { ipv4Address } from '../../src/graph/types.js';
import { parseIPv4 } from '../../src/util/address.js';

const output = (description: string) => Type.Integer({ minimum: 0, maximum: 65535, description });

const DnatRule = Type.Object(
  {
    proto: Type.Union([Type.Literal('tcp'), Type.Literal('udp')], { description: 'The protocol forwarded.' }),
    port: Type.Integer({ minimum: 1, maximum: 65535, description: 'The destination port that is forwarded (the public port).' }),
    to: ipv4Address('The inside address the destination is rewritten to.'),
    toPort: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, description: 'The inside port (default: `port`).' })),
    address: Type.Optional(ipv4Address('Forward only packets to this destination address (default: any).')),
  },
  { additionalProperties: false },
);

const InputSpec = Type.Union([
  Type.Object({ kind: Type.Literal('drop') }, { additionalProperties: false, description: 'Drop packets that belong to no mapping.' }),
  Type.Object(
    { kind: Type.Literal('pass'), output: output('Where packets of no mapping go, unchanged.') },
    { additionalProperties: false, description: 'Send packets of no mapping to `output` unchanged.' },
  ),
  Type.Object(
    {
      kind: Type.Literal('keep'),
      forward: output('Output for packets in the direction of the packet that made the mapping.'),
      reply: output('Output for packets of the reply direction.'),
      pass: Type.Optional(output('Output for packets this spec cannot map (default: drop them).')),
    },
    { additionalProperties: false, description: 'Track new flows without rewriting them.' },
  ),
  Type.Object(
    {
      kind: Type.Literal('snat'),
      address: ipv4Address('The source address of translated packets (the outside address).'),
      ports: Type.Optional(Type.String({ pattern: '^[0-9]{1,5}-[0-9]{1,5}$', description: "Source ports (and ICMP echo identifiers) handed out, 'LOW-HIGH' (default '1024-65535')." })),
      preservePort: Type.Optional(
        Type.Boolean({ default: true, description: "Keep a new flow's own source port (echo identifier) when it is in `ports` and free; false: always hand out the next free one." }),
      ),
      forward: output('Output for translated packets (towards the outside).'),
      reply: output('Output for replies, translated back (towards the inside).'),
      pass: Type.Optional(output('Output for packets this spec cannot map (default: drop them).')),
    },
    { additionalProperties: false, description: 'Source NAT (masquerade): new flows get `address` and a free port as their source.' },
  ),
  Type.Object(
    {
      kind: Type.Literal('dnat'),
      rules: Type.Array(DnatRule, { minItems: 1, description: 'Port forwarding rules, tried in order.' }),
      forward: output('Output for forwarded packets (towards the inside).'),
      reply: output('Output for the inside server\'s replies, translated back (towards the outside).'),
      pass: Type.Optional(output('Output for packets no rule and no mapping covers (default: drop them).')),
    },
    { additionalProperties: false, description: 'Destination NAT (port forwarding): new flows to a rule\'s port get its inside address and port.' },
  ),
]);

export type IPRewriterInputSpec = Static<typeof InputSpec>;

/** 'LOW-HIGH' with 1 <= LOW <= HIGH <= 65535 (snat port ranges; ipRouter's nat.ports too). */
export function parsePortRange(text: string): [number, number] | undefined {
  const m = /^(\d{1,5})-(\d{1,5})$/.exec(text);
  if (!m) return undefined;
  const lo = Number(m[1]);
  const hi = Number(m[2]);
  return lo >= 1 && lo <= hi && hi <= 65535 ? [lo, hi] : undefined;
}

const u32 = (description: string) => Type.Integer({ minimum: 0, maximum: 4294967295, description });
const planOutput = (description: string) => Type.Integer({ minimum: -1, maximum: 65535, description: `${description}; -1: none` });

/** An input spec as the plan carries it: every field present, addresses as numbers (host order). */
const PlanSpec = Type.Object(
  {
    kind: Type.Union([Type.Literal('drop'), Type.Literal('pass'), Type.Literal('keep'), Type.Literal('snat'), Type.Literal('dnat')]),
    forward: planOutput('forward output'),
    reply: planOutput('reply output'),
    pass: planOutput('pass output'),
    address: u32('snat: the source address'),
    low: Type.Integer({ minimum: 0, maximum: 65535, description: 'snat: the lowest port handed out' }),
    high: Type.Integer({ minimum: 0, maximum: 65535, description: 'snat: the highest port handed out' }),
    preservePort: Type.Boolean({ description: "snat: keep a flow's own port when free" }),
    rules: Type.Array(
      Type.Object(
        {
          proto: Type.Union([Type.Literal(6), Type.Literal(17)], { description: 'the IP protocol (TCP 6, UDP 17)' }),
          port: Type.Integer({ minimum: 1, maximum: 65535 }),
          to: u32('the inside address'),
          toPort: Type.Integer({ minimum: 1, maximum: 65535 }),
          address: u32('the destination address matched; 0: any'),
        },
        { additionalProperties: false },
      ),
      { description: 'dnat: the forwarding rules' },
    ),
  },
  { additionalProperties: false },
);
export type IPRewriterPlanSpec = Static<typeof PlanSpec>;

/** The spec of one input, normalised for the plan (the checks have passed). */
function planSpec(s: IPRewriterInputSpec): IPRewriterPlanSpec {
  const p: IPRewriterPlanSpec = { kind: s.kind, forward: -1, reply: -1, pass: -1, address: 0, low: 0, high: 0, preservePort: false, rules: [] };
  if (s.kind === 'drop') return p;
  if (s.kind === 'pass') return { ...p, pass: s.output };
  Object.assign(p, { forward: s.forward, reply: s.reply, pass: s.pass ?? -1 });
  if (s.kind === 'snat') {
    const [low, high] = parsePortRange(s.ports ?? '1024-65535')!;
    Object.assign(p, { address: parseIPv4(s.address)!, low, high, preservePort: s.preservePort ?? true });
  }
  if (s.kind === 'dnat')
    p.rules = s.rules.map((r) => ({
      proto: r.proto === 'tcp' ? 6 : 17,
      port: r.port,
      to: parseIPv4(r.to)!,
      toPort: r.toPort ?? r.port,
      address: r.address ? parseIPv4(r.address)! : 0,
    }));
  return p;
}

export const IPRewriter = defineElement({
  name: 'IPRewriter',
  group: 'ip',
  summary: 'Network address and port translation (NAT): source NAT with port allocation, port forwarding, for TCP, UDP and ICMP echo.',
  doc: `Click's IPRewriter, with its input specs written as typed objects. It keeps a table of mappings.
A mapping is made by a packet of a new flow and has two directions: the **forward** direction (packets
like the one that made it) and the **reply** direction (packets coming back). Each direction rewrites
its packets' addresses and ports and sends them to one output. A flow is identified by protocol,
source and destination address, and source and destination port; for ICMP echo the identifier stands
for the port (the requester's "source port"). IPv4 packets only, starting at the network-header
annotation (CheckIPHeader sets it; at the data start when it is not set).

Every input has a spec (\`inputs[i]\` for input i; one per connected input). A packet that belongs to a
mapping, in either direction, is rewritten and sent to that direction's output whatever input it came
in on. A packet that belongs to none is handled by its input's spec:

- \`{ kind: 'drop' }\`: dropped (\`drops_no_mapping\`, or \`drops_protocol\` for protocols other than TCP,
  UDP and ICMP).
- \`{ kind: 'pass', output }\`: sent to \`output\` unchanged (counted in \`passed\`).
- \`{ kind: 'keep', forward, reply }\`: a mapping that rewrites nothing (connection tracking: the reply
  direction is recognised and sent to \`reply\`).
- \`{ kind: 'snat', address, ports, forward, reply }\`: source NAT (masquerade). The new flow's source
  becomes \`address\` and a source port from \`ports\` (default 1024-65535) not held by another flow of the
  same protocol on that address; for ICMP echo the identifier is replaced the same way. Replies, sent to
  \`address\` and that port, are rewritten back to the original source. Each mapping holds its own
  port (an endpoint-dependent mapping in RFC 4787's terms), so the range bounds the flows per protocol
  at once: a flow that finds no free port is dropped (\`drops_no_port\`). The flow keeps its own source
  port (echo identifier) when that port is in the range and free ("port preservation", a MAY of RFC
  4787 section 4.1, as Linux's masquerading and Click's IPRewriter do); otherwise, and always with
  \`preservePort: false\` (Click's \`#\` ranges), ports are handed out in order, starting where the last
  search stopped (Click picks a random one). So of two inside hosts using the same source port, the
  first keeps it and the second gets another. A port becomes free again when its mapping expires.
  Specs that share an address share its ports (and must give the same range); ports of \`dnat\` rules
  on that address are never handed out.
- \`{ kind: 'dnat', rules, forward, reply }\`: destination NAT (port forwarding). A new TCP or UDP flow
  whose destination port (and address, when the rule gives one) matches a rule, first match wins,
  gets the rule's inside address \`to\` and port \`toPort\` as its destination; the inside server's
  replies get the original destination back as their source.

Which packets make mappings: TCP and UDP packets, and ICMP echo requests. ICMP echo replies, other
ICMP messages and other protocols never do; ICMP errors are handled below. A packet a \`keep\`, \`snat\`
or \`dnat\` spec does not map (and, for \`dnat\`, one no rule matches) goes to the spec's \`pass\` output
when it has one, and is dropped otherwise (\`drops_no_mapping\` or \`drops_protocol\`). A typical NAT
gateway: input 0 from the inside with \`{ kind: 'snat', address: OUTSIDE, forward: 0, reply: 1 }\`
and input 1 from the outside with \`{ kind: 'dnat', rules: [...], forward: 1, reply: 0, pass: 2 }\`:
output 0 leads to the outside, 1 to the inside, and 2 gets what the outside sent to the gateway
itself (a ping, say).

**ICMP errors** (destination unreachable, source quench, redirect, time exceeded, parameter problem)
quote the start of the packet that caused them. When the quoted packet (TCP, UDP or ICMP echo)
belongs to a mapping, the error belongs to the opposite direction of that packet: it is rewritten
as that direction rewrites packets, the outer destination (and the outer source when it is the
flow's own endpoint, as when an inside server behind \`dnat\` reports an error), and the quoted packet
in reverse: its addresses, ports or echo identifier, its IP header checksum, its TCP, UDP or ICMP
checksum (when quoted), and the outer ICMP checksum. It goes to that direction's output and is
counted in \`icmp_errors_rewritten\`. So a port unreachable from the outside about a translated UDP
datagram reaches the inside host that sent it, quoting the datagram as that host sent it. Errors
never make or refresh a mapping; errors about no mapping are handled by the spec like other packets
that cannot be mapped.

All checksums are updated incrementally (RFC 1624), so a wrong checksum stays wrong; a UDP checksum of
0 (none) stays 0. First fragments are translated like whole packets; later fragments cannot be
(no ports): they are dropped (\`drops_fragment\`), so put an IPReassembler in front of a NAT that
must carry fragmented traffic.

**Timeouts.** A mapping expires when no packet of it went by for its timeout (in seconds):
\`tcpTimeout\` (default 7440, RFC 5382's 2 hours 4 minutes) for an established TCP connection (a packet
seen in the reply direction), \`tcpTransitoryTimeout\` (default 240, RFC 5382's 4 minutes) before
that and after a RST or FINs in both directions (a new SYN starts the connection over), \`udpTimeout\`
(default 300, RFC 4787) and \`icmpTimeout\` (default 60, RFC 5508). A timer frees expired mappings
(counted in \`expired\`) and their ports; a packet never uses an expired mapping even when the timer
has not run yet.

**Bounded state.** At most \`capacity\` mappings exist at once, in tables allocated when the graph
loads (112 to 144 bytes per mapping: its record and 4 to 8 index slots); a new flow that finds the table full, after expired mappings are
freed, is dropped (\`drops_table_full\`). \`drops_conflict\` counts new flows whose reply direction
would be the same as an existing mapping's (a \`keep\` or \`dnat\` flow colliding with another).
Other drops: \`drops_bad_ip\` (no IPv4 header: under 20 bytes, version not 4, header length below 5, or
a total length below the header or beyond the packet), \`drops_truncated\` (a TCP header under 20
bytes, a UDP or ICMP header under 8, an ICMP error quoting less than an IPv4 header and 8 bytes),
\`drops_fragment\`.

Several workers may push into the element at once (typically one per interface) and the timer runs
on a third: the table is guarded by a spin lock taken once per batch, for the lookups and decisions
only; parsing and rewriting happen outside it. A batch's packets leave in their arrival order, one
sub-batch per output.

The compiler normalises the specs once into the plan's \`specs\` field (every field present,
addresses as numbers, the port range as \`low\` and \`high\`, protocols as numbers); the engine reads
only that field and checks it again. The plan keeps \`inputs\` too, for the \`config\` handler, with
its addresses typed like every address field's (the handler shows them as text).

Handlers: \`mappings\` (how many), \`table\` (one line per mapping: protocol, the forward direction's
source and destination, \`=>\`, what they become, the forward and reply outputs, the TCP state
(\`established\` or \`transitory\`, \`-\` otherwise) and the seconds since the last packet), and \`clear\`
(write anything: remove every mapping).`,
  inputs: '1-',
  outputs: '1-',
  processing: 'h/h',
  config: Type.Object(
    {
      inputs: Type.Array(InputSpec, {
        minItems: 1,
        description:
          "One spec per input, for packets of no mapping: { kind: 'drop' } | { kind: 'pass', output } | { kind: 'keep', forward, reply, pass? } | { kind: 'snat', address, ports?, preservePort?, forward, reply, pass? } | { kind: 'dnat', rules: [{ proto, port, to, toPort?, address? }], forward, reply, pass? }.",
      }),
      capacity: Type.Optional(Type.Integer({ minimum: 1, maximum: 2097152, default: 65536, description: 'Most mappings at once.' })),
      tcpTimeout: Type.Optional(Type.Number({ minimum: 0.001, maximum: 31536000, default: 7440, description: 'Seconds an idle established TCP mapping lives.' })),
      tcpTransitoryTimeout: Type.Optional(
        Type.Number({ minimum: 0.001, maximum: 31536000, default: 240, description: 'Seconds an idle TCP mapping lives before the reply direction is seen, and after a RST or FINs both ways.' }),
      ),
      udpTimeout: Type.Optional(Type.Number({ minimum: 0.001, maximum: 31536000, default: 300, description: 'Seconds an idle UDP mapping lives.' })),
      icmpTimeout: Type.Optional(Type.Number({ minimum: 0.001, maximum: 31536000, default: 60, description: 'Seconds an idle ICMP echo mapping lives.' })),
      specs: Type.Optional(
        Type.Array(PlanSpec, { description: "Filled in by the compiler from 'inputs' (the specs with addresses as numbers, ports as ranges); leave it out." }),
      ),
    },
    { additionalProperties: false },
  ),
  counters: {
    rewritten: 'packets of mappings rewritten and sent on (the packets that made mappings included)',
    new_mappings: 'mappings made',
    passed: 'packets of no mapping sent unchanged to a pass output',
    icmp_errors_rewritten: 'ICMP errors about a mapped flow rewritten and sent on',
    expired: 'mappings removed because they were idle past their timeout',
    drops_bad_ip: 'packets dropped because they have no usable IPv4 header',
    drops_truncated: 'packets dropped because their TCP, UDP or ICMP header (or an ICMP error\'s quoted header) is cut short',
    drops_fragment: 'fragments other than the first, dropped (no ports to map them by)',
    drops_protocol: 'packets of protocols other than TCP, UDP and ICMP dropped because their spec has no pass output',
    drops_no_mapping: 'packets dropped because they belong to no mapping and their spec makes none for them and has no pass output',
    drops_no_port: 'new flows dropped because every source port of the snat range was held',
    drops_table_full: 'new flows dropped because capacity mappings existed',
    drops_conflict: 'new flows dropped because their reply direction would collide with an existing mapping',
  },
  quotas: { nat: 'capacity' },
  handlers: {
    mappings: { doc: 'the number of mappings', read: true },
    table: { doc: "the mappings, one per line: 'PROTO SRC DST => NEWSRC NEWDST out F reply R STATE idle SECONDS'", read: true },
    clear: { doc: 'write anything: remove every mapping', write: true },
  },
  check: (config, ports) => {
    if (config.specs) return "config field 'specs' is filled in by the compiler from 'inputs': leave it out";
    const specs = config.inputs ?? [];
    if (specs.length !== ports.inputs)
      return `inputs: ${specs.length} input spec(s) but ${ports.inputs} input(s) connected; give one spec per input`;
    const ranges = new Map<string, string>();
    for (const [i, s] of specs.entries()) {
      const where = `inputs[${i}]`;
      const outs: [string, number | undefined][] =
        s.kind === 'pass' ? [['output', s.output]] : s.kind === 'drop' ? [] : [['forward', s.forward], ['reply', s.reply], ['pass', s.pass]];
      for (const [field, o] of outs)
        if (o !== undefined && o >= ports.outputs)
          return `${where}.${field}: output ${o} does not exist (${ports.outputs} output(s) connected); connect it or pick another`;
      if (s.kind === 'snat') {
        const range = s.ports ?? '1024-65535';
        if (!parsePortRange(range)) return `${where}.ports: '${range}' is not 'LOW-HIGH' with 1 <= LOW <= HIGH <= 65535`;
        const other = ranges.get(s.address);
        if (other !== undefined && other !== range)
          return `${where}.ports: address ${s.address} is used by another snat spec with ports '${other}'; give both the same range`;
        ranges.set(s.address, range);
      }
    }
    return undefined;
  },
  plan: (config) => ({ specs: config.inputs.map(planSpec) }),
  examples: [
    "const nat = IPRewriter({ inputs: [{ kind: 'snat', address: '198.18.2.1', forward: 0, reply: 1 }, { kind: 'dnat', rules: [{ proto: 'tcp', port: 2222, to: '198.18.1.2', toPort: 22 }], forward: 1, reply: 0, pass: 2 }] }, 'nat')",
    'pktgraph read nat.table',
  ],
});
