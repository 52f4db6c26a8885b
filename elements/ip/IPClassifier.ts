import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';
import { classifierRules, programFor } from '../../src/filter/index.js';

/** What IPClassifier and IPFilter say about the expression language (shared documentation). */
export const FILTER_LANGUAGE_DOC = `Expressions are tcpdump's (pcap-filter(7)) and mean what they mean to tcpdump reading an
Ethernet capture with \`-O\`: each primitive makes the tests libpcap's code generator makes, in its
order. The tests check that against Debian's tcpdump on generated captures (untagged, VLAN-tagged,
broadcast, multicast and 802.3 frames, frames shorter than an Ethernet header, IPv4 with options,
fragments and other version numbers, IPv6 with extension headers, frames cut short anywhere).

- Protocols: \`ip\`, \`ip6\`, \`arp\`, \`rarp\`, \`tcp\`, \`udp\`, \`sctp\`, \`icmp\`, \`icmp6\`, \`igmp\`, \`pim\`, \`vrrp\`,
  \`ah\`, \`esp\`; \`ip proto N\`, \`ip6 proto N\`, \`proto N\` (numbers or \`\\tcp\`-style names). As in
  tcpdump, \`ip\` (and every IPv4 primitive) looks only at the EtherType, not at the version in the IP
  header; \`icmp\`, \`igmp\` and \`vrrp\` are IPv4 only; IPv6 protocol tests look through one fragment
  header.
- \`protochain N\`, \`ip protochain N\`, \`ip6 protochain N\`: tcpdump's walk along the header chain: IPv6
  hop-by-hop, destination options, routing and fragment headers and AH are stepped over until the
  protocol is N (true), 59 or any other protocol (false); a header cut short rejects the packet. As
  in libpcap's code, the header after an AH is looked for (AH length + 2) * 4 bytes from the network
  header, not from the AH (kept so verdicts are tcpdump's). The walk is native; where tcpdump would
  loop for ever (a crafted AH pointing back at itself) it stops after 256 headers and rejects.
- Addresses: \`[src|dst|src or dst|src and dst] host A\`, \`net A/LEN\`, \`net A mask M\`, \`net 198.18\`
  (IPv4), \`host fd00::1\`, \`net fd00::/8\` (IPv6), optionally after \`ip\`, \`ip6\`, \`arp\` or \`rarp\`. As in
  tcpdump, an IPv4 host or net without \`ip\` also matches ARP and RARP packets naming that address; an
  abbreviated address or mask stands for its leading bytes (\`host 10.1\` and \`net 10.1\` are
  10.1.0.0/16, \`mask 255.255\` is 255.255.0.0), a plain number after \`net\` is moved to the top byte
  (\`net 10\` is 10.0.0.0/8) and after \`host\` is the 32-bit address; a net with bits set outside its
  \`/LEN\` or \`mask\` is an error. A bare address is a host. An IPv6 address test reads all 16 bytes
  of the address, even under a short prefix, as tcpdump does: a packet cut short inside it is rejected.
- Ports: \`[tcp|udp|sctp] [src|dst|...] port P\`, \`portrange A-B\`, \`portrange P\` (the one port): TCP, UDP
  or SCTP, IPv4 only in the first fragment (fragment offset 0), the transport header found from the IHL;
  IPv6 only when the fixed header's next header is the protocol (no extension headers chased). P may
  be a service name from the system's services table (\`port smtp\`, \`portrange ftp-smtp\`), read as
  tcpdump does: a name TCP and UDP give the same port matches both (\`port domain\`), a name only one
  gives matches that protocol only (\`port smtp\` is \`tcp port 25\`), and \`udp port smtp\` is an error.
  Without \`/etc/services\` (Debian package netbase) a name is an error saying so.
- Link layer: \`ether [src|dst|src or dst|src and dst] host MAC\` (also Click's \`src MAC\`, \`host MAC\`,
  a bare address after \`host\`/\`src\`/\`dst\`; tcpdump wants \`ether\` there), \`ether proto N\` or
  \`ether proto \\NAME\` (\`\\ip\`, \`\\ip6\`, \`\\arp\`, \`\\rarp\`, \`\\loopback\`, ...; N up to 1500 is an 802.2 LLC
  SAP, as in tcpdump; IPX and AppleTalk are refused), \`ether broadcast\` or \`broadcast\` (destination
  ff:ff:ff:ff:ff:ff), \`ether multicast\` or \`multicast\` (the group bit of the destination),
  \`ip multicast\` (destination 224.0.0.0 and up), \`ip6 multicast\` (destination ff00::/8), \`ether[OFF:SIZE]\`
  (\`link[...]\` too). \`ip broadcast\` is refused, as tcpdump refuses it without a netmask (reading a
  file it never has one): write \`ip dst host 255.255.255.255\`. \`link\` is a synonym of \`ether\`.
- Byte expressions: \`ip[OFF]\`, \`ip[OFF:SIZE]\` (SIZE 1, 2 or 4), \`ip6[...]\`, \`tcp[...]\`, \`udp[...]\`,
  \`icmp[...]\`, \`sctp[...]\`, \`igmp[...]\` (IPv4 first fragments of that protocol, from the transport
  header; false on anything else, IPv6 included, as in tcpdump), \`icmp6[...]\` (IPv6 with next
  header 58), \`ether[...]\`; OFF may itself be an expression (\`tcp[(tcp[12] >> 4) * 4]\`). Arithmetic
  \`+ - * / % & | ^ << >>\` and unary \`-\` on unsigned 32-bit values, \`len\` (the frame length),
  comparisons \`= == != < <= > >=\`, and tcpdump's names: \`tcpflags\`, \`tcp-syn\`, \`tcp-ack\`, ...,
  \`icmptype\`, \`icmpcode\`, \`icmp-echo\`, \`icmp-unreach\`, ..., \`icmp6type\`, \`icmp6-echo\`,
  \`icmp6-neighborsolicit\`, ....
- \`len\`, \`less N\` (len <= N), \`greater N\` (len >= N); Click's \`true\` and \`false\` (tcpdump has no such
  primitives).
- \`vlan [ID]\`: the type field is a tag (0x8100, 0x88a8 or 0x9100, as tcpdump) with that id. As in
  tcpdump, every primitive after \`vlan\` applies to the packet inside the tag, and one before it to
  an untagged packet; two \`vlan\` primitives step through two tags. Where the frame has another
  number of tags than the primitive stepped into (\`vlan or ip\` on an untagged frame, \`0 - ip[8]\` on
  a tagged one), the primitive reads the frame where tcpdump does (14 + 4 bytes per tag stepped
  into), not the network header.
- tcpdump quirks kept: in \`A - B\` (any binary operator) only A's protocol check applies
  (\`0 - ip[8] > 1\` reads byte 8 after the network header of any packet, ARP and IPv6 included), and
  \`tcp[...]\`-style loads find the transport header as 4 * the low nibble of the network header's
  first byte.
- \`and\`/\`&&\`, \`or\`/\`||\` (equal precedence, left to right, as in tcpdump), \`not\`/\`!\`, parentheses, and
  the abbreviations \`host A or B\`, \`port 80 or 443\`, \`port smtp or domain\`, \`src net N and not M\` (a
  bare value takes the qualifiers of the primitive before it).

Not supported, and a compile-time error naming the token and its position: other link types'
primitives (\`ppp\`, \`fddi\`, \`wlan\`, ...), \`gateway\`, \`mpls\`, \`pppoes\`, \`geneve\`, \`gre\` and other
keywords tcpdump does not have, host names (give addresses), \`arp[...]\`; and Click's own IPClassifier
words, since the language is tcpdump's: write \`tcp[tcpflags] & tcp-syn != 0\` for \`syn\`/\`tcp opt syn\`,
\`icmp[icmptype] = icmp-echo\` for \`icmp type echo\`, \`tcp dst portrange 1024-65535\` for
\`dst tcp port > 1023\`, \`ip[0] >> 4 = 4\` for \`ip vers 4\`, \`ip[6:2] & 0x3fff != 0\` for \`ip frag\`. Click's
\`true\`, \`false\`, \`-\`/\`any\`/\`all\`, \`allow\`/\`deny\`/\`drop\` and a bare Ethernet address after
\`src\`/\`dst\`/\`host\` are accepted.

Where the packet is. The link header is the MAC header annotation (set by FromDevice, FromPcap, Tap,
EtherEncap, VLANDecap; Strip leaves it pointing at the stripped header), with a tag VLANDecap moved
into the VLAN annotation put back as an 0x8100 tag: the frame tcpdump would have seen. When the
network header annotation (CheckIPHeader, MarkIPHeader, CheckIP6Header) sits right after that link
header and its tags, or is not set (it is then taken to be there), the expression sees exactly that
frame: protocols come from the EtherType, \`vlan\` from the tags, and a frame too short for the
EtherType (or a tag) rejects every primitive reading it (so \`not vlan\` and \`not ip\` do not match a
frame shorter than an Ethernet header, as in tcpdump). Otherwise (no MAC header annotation: raw IP,
or a network header somewhere else, such as an inner packet after a decapsulation), the IP version in
the network header gives the protocol (4 IPv4, 6 IPv6; never ARP) and the VLAN annotation is the only
tag. \`ether\` primitives always read the MAC header annotation; a packet without one is rejected by
them (as a read past the end). \`len\` is the frame length: from the MAC header (or, without one, the
network header) to the end, plus 4 for a tag in the annotation.

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
none is dropped and counted in \`drops_no_match\` (end with \`-\` to keep every packet). \`-\` (or \`all\`,
\`any\`, \`true\`) matches every packet. The number of outputs must equal the number of patterns; as
in Click, no patterns (and no outputs) drops every packet. \`packets\`
counts every packet classified. Each batch is classified whole, then each output receives one
sub-batch in arrival order.

${FILTER_LANGUAGE_DOC}`,
  inputs: '1',
  outputs: '0-',
  processing: 'h/h',
  config: Type.Object(
    {
      patterns: Type.Array(Type.String(), {
        maxItems: 4096,
        description: "One tcpdump expression per output, or '-' for every packet.",
      }),
      program: Type.Optional(
        Type.String({ default: '', description: 'Filled in by the compiler from the patterns (the decision DAG); leave it empty.' }),
      ),
    },
    { additionalProperties: false },
  ),
  counters: { packets: 'packets classified (including those dropped)', drops_no_match: 'packets dropped because they matched no pattern' },
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
