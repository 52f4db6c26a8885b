import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

export const IPFragmenter = defineElement({
  name: 'IPFragmenter',
  group: 'ip',
  summary: 'Splits IPv4 datagrams larger than the MTU into fragments (RFC 791); DF packets go to output 1 or are dropped.',
  doc: `Click's IPFragmenter(MTU). Works on the IPv4 header at the network-header annotation (set by
CheckIPHeader or MarkIPHeader); the data may start before it (an Ethernet header, say). A datagram
whose total length is at most \`mtu\` leaves on output 0 unchanged (counted in \`packets\`).

A larger one with the DF (don't fragment) flag set, when \`honorDF\` is true, leaves unchanged on
output 1 when that output exists (for ICMPError with \`code: 'needfrag', mtu\`), else it is dropped and
counted in \`drops_df\`. Otherwise it is split (counted in \`fragmented\`; every fragment in
\`fragments\`): each fragment is a new pool packet holding the bytes in front of the IP header (and any
stripped header an annotation points to), an IPv4 header and a piece of the payload, at most \`mtu\`
bytes from the IP header on; every piece but the last has a multiple of 8 bytes. The first fragment
carries the whole original header; the later ones carry only the options with the copied flag
(RFC 791: security, source routes, ...), padded to a multiple of 4 bytes with end-of-list bytes.
Each fragment has its total length, the fragment offset (in 8-byte units, added to the original's
offset, so fragments of fragments are right), MF set on all but the last (and on the last when the
original had MF), DF as the original had it, and a recomputed header checksum. Annotations are copied
(the transport-header annotation is cleared on the later fragments, which have no transport header).
Padding after the total length is not copied. The original is freed.

Dropped and counted: \`drops_malformed\`, the annotation unset or 20 bytes not inside the packet, version
not 4, IHL < 5, total length shorter than the header or longer than the packet, or an option whose
length runs past the header; \`drops_pool_empty\`, originals that could not be split completely because the
pool ran dry (the fragments already sent stay sent). Push only.`,
  inputs: '1',
  outputs: '1-2',
  processing: 'h/h',
  config: Type.Object(
    {
      mtu: Type.Integer({ minimum: 68, maximum: 65535, description: 'The largest datagram (from the IP header on) the next link takes, in bytes.' }),
      honorDF: Type.Optional(
        Type.Boolean({ default: true, description: 'Whether DF packets too large are kept whole (output 1 or dropped) rather than fragmented.' }),
      ),
    },
    { additionalProperties: false },
  ),
  counters: {
    packets: 'datagrams that fit the MTU (sent on output 0 unchanged)',
    fragmented: 'datagrams split into fragments',
    fragments: 'fragments sent on output 0',
    drops_df: 'DF datagrams too large for the MTU dropped because output 1 does not exist',
    drops_malformed: 'packets dropped because the IPv4 header is missing, short or inconsistent',
    drops_pool_empty: 'datagrams dropped because the packet pool was empty before all their fragments were made (those made were sent)',
  },
  examples: [
    "CheckIPHeader().to(IPFragmenter({ mtu: 1400 }, 'frag')); // frag.out(1).to(ICMPError({ src: '192.0.2.1', type: 'unreachable', code: 'needfrag', mtu: 1400 }))",
  ],
});
