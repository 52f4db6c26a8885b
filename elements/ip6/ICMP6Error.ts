import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';
import { ipv6Address } from '../../src/graph/types.js';
import { parseIPv6 } from '../../src/util/address.js';

export const ICMP6Error = defineElement({
  name: 'ICMP6Error',
  group: 'ip6',
  summary: 'Answers each input IPv6 packet with a new ICMPv6 error message about it (rate-limited); frees the original.',
  doc: `Click's ICMP6Error(SRC, TYPE, CODE), the IPv6 counterpart of ICMPError (RFC 4443). Works on the IPv6 header at the
network-header annotation (set by CheckIP6Header, or by FromPcap on a raw-IP file), typically on DecIP6HLIM's
output 1 (time exceeded: \`type: 3, code: 0\`), a LookupIP6Route output for unroutable destinations
(destination unreachable: \`type: 1\`, codes 0 no route, 1 administratively prohibited, 3 address
unreachable, 4 port unreachable, ...), in front of a too-small link (packet too big: \`type: 2, mtu: ...\`)
or after a header check (parameter problem: \`type: 4\`, codes 0 erroneous header field, 1 unrecognized
next header, 2 unrecognized option, with \`pointer\`). For each packet it builds a new packet from the pool,
starting at the IPv6 header (put EtherEncap after it):

- IPv6 header: version 6, traffic class 0, flow label 0, next header 58, hop limit 64, source \`src\`,
  destination the offending packet's source;
- ICMPv6 header: \`type\`, \`code\`, the checksum over the IPv6 pseudo-header and the whole message, and the
  4-byte field after it: \`mtu\` for packet too big (type 2), \`pointer\` for parameter problem (type 4),
  zero otherwise;
- the offending packet from its IPv6 header on, never past its datagram (40 + payload length) nor past
  the packet, as much as fits in 1280 bytes in all (the IPv6 minimum MTU, RFC 4443 section 2.4 (c)), or
  in the pool's buffer if that is smaller.

The new packet gets the network-header annotation (its start), the transport-header annotation (the
ICMPv6 header), the IPv6 destination-address annotation (\`dst_ip6\`, its destination, for LookupIP6Route)
and the original's timestamp and table id; the original is freed. Errors leave on output 0 and are
counted in \`errors\`.

No error is sent (the packet is dropped and counted) about (RFC 4443 section 2.4 (e)), in this order:

- \`suppressed_icmp_error\`: an ICMPv6 error message (types below 128). Hop-by-hop, routing, destination
  options and (first) fragment headers are walked to find it; informational messages (echo, ...) do get
  errors;
- \`suppressed_bad_source\`: a multicast (ff00::/8) or unspecified (::) source, which names no one host;
- \`suppressed_bad_destination\`: a packet sent to a multicast address, or one that arrived as a
  link-level broadcast or multicast (its packet-type annotation, set by FromDevice, FromPcap and Tap),
  except for packet too big (type 2) and parameter problem code 2 (unrecognized option), which RFC 4443
  2.4 (e) allows for multicast;
- \`rate_limited\`: more than \`rateLimit\` errors per second (RFC 4443 section 2.4 (f)). A token bucket
  holds up to \`rateLimit\` tokens (one second's worth) and starts full; it refills at \`rateLimit\` tokens
  per second (from the worker's loop clock) and every error takes one, so a burst of 1000 packets at
  \`rateLimit: 10\` gets the first 10 errors, and then one more each 100 ms. The bucket is one atomic
  word (a generic cell rate algorithm), claimed once per batch, so it is exact when several workers push
  into one ICMP6Error. 0 turns the limit off.

Packets without a usable header are dropped and counted in \`drops_malformed\` (the annotation unset, or
40 bytes not inside the packet), and errors that cannot get a buffer (pool empty) in \`drops_no_buffer\`.
\`src\` must be a unicast address (checked at compile and load time). Push only.`,
  inputs: '1',
  outputs: '1',
  processing: 'h/h',
  config: Type.Object(
    {
      src: ipv6Address("The router's IPv6 address, the source of the error messages (unicast)."),
      type: Type.Integer({
        minimum: 0,
        maximum: 127,
        description: 'The ICMPv6 error type: 1 destination unreachable, 2 packet too big, 3 time exceeded, 4 parameter problem.',
      }),
      code: Type.Optional(Type.Integer({ minimum: 0, maximum: 255, default: 0, description: 'The ICMPv6 code (time exceeded: 0 hop limit, 1 reassembly; ...).' })),
      mtu: Type.Optional(
        Type.Integer({ minimum: 0, maximum: 4294967295, default: 1280, description: 'For packet too big (type 2): the MTU of the next-hop link.' }),
      ),
      pointer: Type.Optional(
        Type.Integer({ minimum: 0, maximum: 4294967295, default: 0, description: 'For parameter problem (type 4): the offset of the offending byte in the quoted packet.' }),
      ),
      rateLimit: Type.Optional(
        Type.Integer({ minimum: 0, maximum: 1000000, default: 100, description: 'Errors per second at most (token bucket of one second, starting full); 0: unlimited.' }),
      ),
    },
    { additionalProperties: false },
  ),
  check: (c) => {
    const v = parseIPv6(c.src);
    if (v === undefined) return `src: '${c.src}' is not an IPv6 address`;
    if (v >> 120n === 0xffn) return `src: '${c.src}' is a multicast address; give the router's unicast address`;
    if (v === 0n) return `src: '${c.src}' is the unspecified address; give the router's unicast address`;
    return undefined;
  },
  endsPushCycles: "its errors may go back to the route lookup: an error about an ICMPv6 error is never sent, so a packet passes it at most twice",
  counters: {
    errors: 'ICMPv6 error messages sent (on output 0)',
    suppressed_icmp_error: 'packets not answered because they are ICMPv6 error messages (types below 128)',
    suppressed_bad_source: 'packets not answered because the source is multicast (ff00::/8) or unspecified (::)',
    suppressed_bad_destination: 'packets not answered because the destination is multicast, at the IP or the link level (except packet too big and parameter problem code 2)',
    rate_limited: 'packets not answered because the rate limit was reached',
    drops_malformed: 'packets dropped because the network-header annotation is unset or the 40-byte IPv6 header is not inside the packet',
    drops_no_buffer: 'errors dropped (not sent) because the packet pool was empty',
  },
  examples: [
    "const hlim = CheckIP6Header().to(DecIP6HLIM({}, 'hlim')); hlim.out(1).to(ICMP6Error({ src: 'fd00::1', type: 3, code: 0 }))",
    "ICMP6Error({ src: 'fd00::1', type: 2, mtu: 1400 })",
  ],
});
