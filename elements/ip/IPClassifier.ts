import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';
import { classifierRules, programFor } from '../../src/filter/index.js';

/** What IPClassifier and IPFilter say about the expression language (shared documentation). */
export const FILTER_LANGUAGE_DOC = `Expressions are tcpdump's (pcap-filter(7)) and mean what they mean to tcpdump reading an
Ethernet capture; the tests check that against Debian's tcpdump on generated captures.

- Protocols: \`ip\`, \`ip6\`, \`arp\`, \`rarp\`, \`tcp\`, \`udp\`, \`sctp\`, \`icmp\`, \`icmp6\`, \`igmp\`, \`pim\`, \`vrrp\`,
  \`ah\`, \`esp\`; \`ip proto N\`, \`ip6 proto N\`, \`proto N\` (numbers or \`\\tcp\`-style names). As in
  tcpdump, \`icmp\`, \`igmp\` and \`vrrp\` are IPv4 only, and IPv6 protocol tests look through one
  fragment header.
- Addresses: \`[src|dst|src or dst|src and dst] host A\`, \`net A/LEN\`, \`net A mask M\`, \`net 198.18\`
  (IPv4), \`host fd00::1\`, \`net fd00::/8\` (IPv6), optionally after \`ip\`, \`ip6\`, \`arp\` or \`rarp\`. As in
  tcpdump, an IPv4 host or net without \`ip\` also matches ARP and RARP packets naming that address, and
  a net with bits set outside its mask is an error. A bare address is a host.
- Ports: \`[tcp|udp|sctp] [src|dst|...] port N\`, \`portrange A-B\`: TCP, UDP or SCTP, IPv4 only in the
  first fragment (fragment offset 0), the transport header found from the IHL; IPv6 only when the
  fixed header's next header is the protocol (no extension headers chased).
- Byte expressions: \`ip[OFF]\`, \`ip[OFF:SIZE]\` (SIZE 1, 2 or 4), \`ip6[...]\`, \`tcp[...]\`, \`udp[...]\`,
  \`icmp[...]\`, \`sctp[...]\`, \`igmp[...]\` (IPv4 first fragments of that protocol, from the transport
  header; false on anything else, IPv6 included, as in tcpdump), \`icmp6[...]\` (IPv6 with next
  header 58); OFF may itself be an expression (\`tcp[(tcp[12] >> 4) * 4]\`). Arithmetic \`+ - * / % & | ^
  << >>\` and unary \`-\` on unsigned 32-bit values, \`len\` (the frame length), comparisons \`= == != < <= >
  >=\`, and tcpdump's names: \`tcpflags\`, \`tcp-syn\`, \`tcp-ack\`, ..., \`icmptype\`, \`icmpcode\`, \`icmp-echo\`,
  \`icmp-unreach\`, ..., \`icmp6type\`, \`icmp6-echo\`, \`icmp6-neighborsolicit\`, ....
- \`len\`, \`less N\` (len <= N), \`greater N\` (len >= N).
- \`vlan [ID]\`: the packet carries a VLAN tag (with that id). As in tcpdump, every primitive after
  \`vlan\` applies to the packet inside the tag, and one before it to an untagged packet; two \`vlan\`
  primitives step through two tags (802.1ad then 802.1Q). Where tcpdump reads a frame's bytes at the
  wrong place because it has more or fewer tags than the expression stepped into (a primitive after
  \`vlan\` under an \`or\` meeting an untagged frame), the primitive is false here; tcpdump's result
  depends on whatever bytes it read.
- tcpdump quirks kept: in \`A - B\` (any binary operator) only A's protocol check applies
  (\`0 - ip[8] > 1\` reads byte 8 after the network header of any packet, ARP and IPv6 included), and
  \`tcp[...]\`-style loads find the transport header as 4 * the low nibble of the network header's
  first byte.
- \`and\`/\`&&\`, \`or\`/\`||\` (equal precedence, left to right, as in tcpdump), \`not\`/\`!\`, parentheses, and
  the abbreviations \`host A or B\`, \`port 80 or 443\`, \`src net N and not M\` (a bare value takes the
  qualifiers of the primitive before it).

Not supported, and a compile-time error naming the token and its position: link-layer primitives
(\`ether\`, \`broadcast\`, \`multicast\`, \`gateway\`, ...), \`gre\` and other keywords tcpdump does not have,
host and port names (give numbers), \`protochain\`, \`ether[...]\`.

Where the packet is: the network header annotation (set by CheckIPHeader, MarkIPHeader,
CheckIP6Header). The family comes from the EtherType just before the network header when the MAC
header annotation marks an Ethernet header there (IPv4 needs EtherType 0x0800 and version 4, IPv6
0x86dd and version 6, ARP 0x0806, RARP 0x8035), otherwise from the IP version nibble alone.
VLAN tags are the VLAN annotation (a tag VLANDecap removed, outermost) and tags still in the frame
between the MAC and network headers. \`len\` is the frame length: from the MAC header (or, without
one, the network header) to the end, plus 4 for a tag moved into the annotation. A packet with no
network header annotation is neither IPv4, IPv6 nor ARP: only \`len\`, \`less\`, \`greater\`, \`vlan\` and
their negations can match it.

Compilation: every expression is expanded to the tests tcpdump's code generator makes, then
compiled (in TypeScript, when the graph is compiled) to a decision DAG of comparison nodes, each a
small postfix program over packet bytes and per-packet values. Tests an earlier test on the path
already decides are skipped (rules re-check the family and protocol; a rule's second \`port\` does
not), nodes are shared where equal, and the two commonest node shapes (a context value or one masked
load against a constant) skip the stack machine. The plan carries the DAG in the \`program\` field
(leave it empty; the compiler fills it); the \`program\` handler prints it.

Every read is bounds-checked: as in BPF, a read past the end of the packet (or a division by zero)
rejects the packet for that expression, whatever \`not\` or \`or\` surrounds it, and the packet goes on
to the next expression. This is exactly \`tcpdump -O\` (libpcap's code unoptimised). tcpdump's
optimizer sometimes drops or reorders such a read, so on a packet cut short inside the fields an
expression reads, plain tcpdump can differ (\`port 80 or 443\` on a TCP header holding only the
source port 443: tcpdump accepts, this rejects); on packets that hold what they are asked for, the
two agree.`;

export const IPClassifier = defineElement({
  name: 'IPClassifier',
  group: 'ip',
  summary: 'Sends each IP packet to the output of the first tcpdump expression it matches.',
  doc: `Click's IPClassifier with tcpdump's expression language. \`patterns\` has one expression per output;
a packet goes to output i when it matches pattern i and no earlier pattern; a packet that matches
none is dropped and counted in \`no_match\` (end with \`-\` to keep every packet). \`-\` (or \`all\`,
\`true\`) matches every packet. The number of outputs must equal the number of patterns. \`packets\`
counts every packet classified. Each batch is classified whole, then each output receives one
sub-batch in arrival order.

${FILTER_LANGUAGE_DOC}`,
  inputs: '1',
  outputs: '1-',
  processing: 'h/h',
  config: Type.Object(
    {
      patterns: Type.Array(Type.String(), {
        minItems: 1,
        maxItems: 4096,
        description: "One tcpdump expression per output, or '-' for every packet.",
      }),
      program: Type.Optional(
        Type.String({ default: '', description: 'Filled in by the compiler from the patterns (the decision DAG); leave it empty.' }),
      ),
    },
    { additionalProperties: false },
  ),
  counters: { packets: 'packets classified (including those dropped)', no_match: 'packets dropped because they matched no pattern' },
  handlers: { program: { doc: 'the compiled decision DAG, one node per line', read: true } },
  check: (config, ports) => {
    if (config.program) return "config field 'program' is filled in by the compiler from 'patterns': leave it out";
    const r = programFor(() => classifierRules(config.patterns));
    if (r.error) return r.error;
    if (config.patterns.length !== ports.outputs)
      return `has ${config.patterns.length} pattern(s) but ${ports.outputs} output(s): give one pattern per output`;
    return undefined;
  },
  plan: (config) => ({ program: programFor(() => classifierRules(config.patterns)).program }),
  examples: [
    "IPClassifier({ patterns: ['tcp dst port 80 or 443', 'icmp[icmptype] == icmp-echo', 'udp and dst net 198.18.0.0/15', '-'] })",
  ],
});
