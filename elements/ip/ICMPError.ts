import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';
import { ipv4Address } from '../../src/graph/types.js';

/** ICMP error type names (the same table as ICMPError.cc). */
export const ICMP_ERROR_TYPES: Record<string, number> = { unreachable: 3, redirect: 5, timeexceeded: 11, parameterproblem: 12 };
/** Code names per ICMP type number (the same tables as ICMPError.cc). */
export const ICMP_ERROR_CODES: Record<number, Record<string, number>> = {
  3: { net: 0, host: 1, protocol: 2, port: 3, needfrag: 4, srcroutefail: 5, netunknown: 6, hostunknown: 7, adminprohibited: 13 },
  5: { net: 0, host: 1, tosnet: 2, toshost: 3 },
  11: { transit: 0, reassembly: 1 },
  12: { erroratptr: 0, missingoption: 1, length: 2 },
};

const typeNames = Object.keys(ICMP_ERROR_TYPES);

export const ICMPError = defineElement({
  name: 'ICMPError',
  group: 'ip',
  summary: 'Answers each input IPv4 packet with a new ICMP error message about it (rate-limited); frees the original.',
  doc: `Click's ICMPError(SRC, TYPE, CODE). Works on the IPv4 header at the network-header annotation (set by
CheckIPHeader or MarkIPHeader), typically on DecIPTTL's output 1 (\`type: 'timeexceeded'\`), an IPLookup
output for unroutable destinations (\`type: 'unreachable', code: 'net'\`) or on the branch for DF
packets too large for the next link (\`code: 'needfrag', mtu: ...\`). For each packet it builds a new packet
from the pool, starting at the IPv4 header (put EtherEncap after it):

- IPv4 header: version 4, TOS \`tos\` (default 0xc0: precedence 6, internetwork control, as RFC 1812
  4.3.2.5 asks of errors), a running identification, no flags, TTL \`ttl\` (default 64, Linux's
  default TTL), protocol 1, source \`src\`, destination the offending packet's source, correct header
  checksum. Click sends TOS 0 and TTL 200: give \`tos: 0, ttl: 200\` for Click's bytes. IHL 5, unless
  the offending datagram carried a loose or strict source route (the first LSRR or SSRR option whose
  pointer is a multiple of 4 from 4 to its length + 1): then the error carries a source route option of
  the same type holding the route's addresses recorded so far (those before the pointer), in reverse
  order, with pointer 4, followed by an end-of-options byte (RFC 1812 4.3.2.6, as Click does), so that
  it goes back the way the datagram came. Not when the error is a parameter problem whose pointer
  falls inside that option (the route itself is the problem);
- ICMP header: \`type\`, \`code\`, checksum over the whole ICMP message, and the 4-byte field after it:
  for fragmentation needed (type 3, code 4) the next-hop MTU (\`mtu\`, RFC 1191) in its last two bytes;
  for parameter problem (type 12) the pointer in its first byte: the packet's parameter-problem
  annotation when IPGWOptions set one (the offending option byte), else \`pointer\`; for redirect (type 5) the gateway, taken
  from the offending packet's destination-address annotation (as Click does); zero otherwise;
- the offending datagram from its IPv4 header on, as much as fits in 576 bytes in all (RFC 1812
  4.3.2.3: at most 548 bytes quoted, less the returned source route), never past its total length nor
  past the packet. That is at
  least the IP header and the first 8 payload bytes RFC 792 asks for, whenever the datagram has them.

The new packet gets the network-header annotation (its start), the transport-header annotation (the
ICMP header), the destination-address annotation (its destination, for IPLookup) and the original's
timestamp and table id, and the fix-IP-source annotation, so that a FixIPSrc on the way out gives it
the address of the interface it leaves by (as in Click); the original is freed. Errors leave on output 0 and are counted in \`errors\`.

No error is sent (the packet is dropped and counted) about:

- \`suppressed_fragment\`: a fragment other than the first (fragment offset not 0);
- \`suppressed_bad_source\`: a source that does not name one host: 0.0.0.0/8, loopback 127.0.0.0/8,
  multicast 224.0.0.0/4, or 240.0.0.0/4 (class E and the broadcast 255.255.255.255) (RFC 1122 3.2.2);
- \`suppressed_bad_destination\`: a datagram sent to a multicast address or 255.255.255.255, or one that
  arrived as a link-level broadcast or multicast (its packet-type annotation, set by FromDevice, FromPcap
  and Tap; RFC 1812 4.3.2.7, as Click);
- \`suppressed_icmp_error\`: an ICMP error message (ICMP types 3, 4, 5, 11 and 12); queries and
  replies (echo, timestamp, ...) do get errors;
- \`suppressed_source_routed\`: for a redirect (type 5), a source-routed datagram (RFC 1812
  5.2.7.2, as Click);
- \`rate_limited\`: more than \`rateLimit\` errors per second. A token bucket holds up to \`rateLimit\`
  tokens (one second's worth) and starts full; it refills at \`rateLimit\` tokens per second (read from
  the worker's loop clock once per batch) and every error takes one. So a burst of 1000 packets at
  \`rateLimit: 10\` gets the first 10 errors, and then one more each 100 ms. 0 turns the limit off.

Checked in this order; packets without a usable header are dropped and counted in \`drops_malformed\`
(the annotation unset or 20 bytes not inside the packet, version not 4, IHL < 5, the header longer
than the packet or than the total length, an ICMP packet without its type byte), and errors that
cannot get a buffer (pool empty) in \`drops_no_buffer\`. The bucket is not shared across threads
exactly: when one ICMPError receives packets on several workers at once the limit is approximate.
Push only.

\`type\` is a number or a name: ${typeNames.map((n) => `'${n}' (${ICMP_ERROR_TYPES[n]})`).join(', ')}. \`code\` is a
number or a name valid for the type: ${Object.entries(ICMP_ERROR_CODES)
    .map(([t, codes]) => `type ${t}: ${Object.entries(codes).map(([n, v]) => `'${n}' (${v})`).join(', ')}`)
    .join('; ')}.`,
  inputs: '1',
  outputs: '1',
  processing: 'h/h',
  config: Type.Object(
    {
      src: ipv4Address("The router's address, the source of the error messages, dotted quad."),
      type: Type.Union(
        [
          Type.Integer({ minimum: 0, maximum: 255 }),
          Type.Literal('unreachable'),
          Type.Literal('redirect'),
          Type.Literal('timeexceeded'),
          Type.Literal('parameterproblem'),
        ],
        {
          description: `The ICMP type: a number or ${typeNames.map((n) => `'${n}'`).join(', ')}.`,
        },
      ),
      code: Type.Optional(
        Type.Union([Type.Integer({ minimum: 0, maximum: 255 }), Type.String({ pattern: '^[a-z]+$' })], {
          default: 0,
          description: "The ICMP code: a number or a name valid for the type ('net', 'host', 'protocol', 'port', 'needfrag', 'transit', 'reassembly', ...).",
        }),
      ),
      mtu: Type.Optional(
        Type.Integer({ minimum: 0, maximum: 65535, default: 0, description: 'The next-hop MTU for fragmentation needed (type 3, code 4; required there, at least 68).' }),
      ),
      pointer: Type.Optional(
        Type.Integer({ minimum: 0, maximum: 255, default: 0, description: 'For parameter problem (type 12): the offset of the offending byte in the quoted datagram.' }),
      ),
      rateLimit: Type.Optional(
        Type.Integer({ minimum: 0, maximum: 1000000, default: 100, description: 'Errors per second at most (token bucket of one second, starting full); 0: unlimited.' }),
      ),
      tos: Type.Optional(
        Type.Integer({ minimum: 0, maximum: 255, default: 0xc0, description: "The errors' IPv4 TOS byte (default 0xc0: precedence internetwork control, RFC 1812 4.3.2.5; Click sends 0)." }),
      ),
      ttl: Type.Optional(Type.Integer({ minimum: 1, maximum: 255, default: 64, description: "The errors' IPv4 TTL (default 64; Click sends 200)." })),
    },
    { additionalProperties: false },
  ),
  check: (c) => {
    const type = typeof c.type === 'string' ? ICMP_ERROR_TYPES[c.type] : c.type;
    let code = c.code ?? 0;
    if (typeof code === 'string') {
      const codes = ICMP_ERROR_CODES[type];
      if (!codes || codes[code] === undefined) {
        return `code '${code}' is not a code name of ICMP type ${type}${codes ? `; its codes are: ${Object.keys(codes).join(', ')}` : ' (give a number)'}`;
      }
      code = codes[code];
    }
    if (type === 3 && code === 4 && (c.mtu ?? 0) < 68) return 'fragmentation needed (needfrag) needs the next-hop mtu (68 to 65535)';
    return undefined;
  },
  endsPushCycles: "its errors may go back to the route lookup (as in Click's router): an error about an ICMP error is never sent, so a packet passes it at most twice",
  counters: {
    errors: 'ICMP error messages sent (on output 0)',
    suppressed_icmp_error: 'packets not answered because they are ICMP error messages (types 3, 4, 5, 11, 12)',
    suppressed_bad_source: 'packets not answered because the source is 0/8, 127/8, 224/4 or 240/4',
    suppressed_bad_destination: 'packets not answered because the destination is multicast or 255.255.255.255, or they arrived as link-level broadcast or multicast',
    suppressed_fragment: 'packets not answered because they are fragments other than the first',
    suppressed_source_routed: 'packets not answered with a redirect because they carry a source route (RFC 1812 5.2.7.2)',
    rate_limited: 'packets not answered because the rate limit was reached',
    drops_malformed: 'packets dropped because the IPv4 header is missing, short or inconsistent',
    drops_no_buffer: 'packets dropped without an error message because the packet pool was empty',
  },
  examples: [
    "const ttl = CheckIPHeader().to(DecIPTTL({}, 'ttl')); ttl.out(1).to(ICMPError({ src: '192.0.2.1', type: 'timeexceeded', code: 'transit' }))",
    "ICMPError({ src: '192.0.2.1', type: 'unreachable', code: 'needfrag', mtu: 1400 })",
  ],
});
