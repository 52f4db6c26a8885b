import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';
import { etherAddress, ipv6Address } from '../../src/graph/types.js';
import { parseIPv6, parseMac } from '../../src/util/address.js';


export const IP6NDAdvertiser = defineElement({
  name: 'IP6NDAdvertiser',
  group: 'ip6',
  summary: 'Answers IPv6 Neighbor Solicitations for the addresses it is configured with (Click\'s IP6NDAdvertiser).',
  doc: `Click's IP6NDAdvertiser(IP6 MAC, ...): the IPv6 counterpart of ARPResponder. Each entry of
\`entries\` is \`ADDRESS MAC\`: a Neighbor Solicitation for ADDRESS is answered with MAC.

Input 0 takes Ethernet frames. A Neighbor Solicitation (EtherType 0x86dd, IPv6 next header 58 with
no extension header, ICMPv6 type 135 code 0, at least 24 bytes) with hop limit 255 (RFC 4861), a
valid ICMPv6 checksum and a target address some entry holds is turned, in place, into an 86-byte
Neighbor Advertisement (type 136, flags Solicited and Override, a target link-layer address option
with the entry's MAC), from the target address and the entry's MAC to the solicitor: its IPv6 source
address, and the MAC of its source link-layer address option (else the frame's Ethernet source).
The advertisement has hop limit 255 and a correct checksum; it goes to output 0, counted in
\`advertisements\`. A solicitation from the unspecified address (duplicate address detection) is
answered to the all-nodes address ff02::1 (33:33:00:00:00:01) with the Solicited flag clear.

Everything else is dropped and counted: a frame of another EtherType, or an IPv6 packet that is not
a Neighbor Solicitation, in \`drops_not_solicitation\`; a solicitation whose hop limit is not 255, in
\`drops_hop_limit\`; one with a bad checksum, in \`drops_checksum\`; one for an address no entry
holds, in \`drops_no_entry\`; a truncated frame, a bad payload length, a code other than 0, a
multicast target or a malformed option, in \`drops_malformed\`. Entries are looked up by a linear
scan.`,
  inputs: '1',
  outputs: '1',
  processing: 'h/h',
  config: Type.Object(
    {
      entries: Type.Array(Type.String(), {
        minItems: 1,
        description: "Addresses answered, one per entry: 'ADDRESS MAC', e.g. 'fd00::1 02:00:00:00:00:01'.",
      }),
      compiledEntries: Type.Optional(
        Type.Array(Type.Object({ ip: ipv6Address('An address answered.'), mac: etherAddress('The MAC that answers it.') }), {
          description: "Filled in by the compiler from 'entries' (typed); leave it out.",
        }),
      ),
    },
    { additionalProperties: false },
  ),
  counters: {
    advertisements: 'Neighbor Solicitations answered (advertisements sent)',
    drops_not_solicitation: 'frames dropped because they are not IPv6 Neighbor Solicitations',
    drops_hop_limit: 'solicitations dropped because their hop limit is not 255',
    drops_checksum: 'solicitations dropped because their ICMPv6 checksum is wrong',
    drops_no_entry: 'solicitations dropped because no entry holds their target address',
    drops_malformed: 'frames dropped because they are truncated or their solicitation is malformed',
  },
  check: (config) => {
    if (config.compiledEntries) return "config field 'compiledEntries' is filled in by the compiler from 'entries': leave it out";
    for (const e of config.entries) {
      const w = e.trim().split(/\s+/);
      if (w.length !== 2 || parseMac(w[1]) === undefined) return `entry '${e}' is not 'ADDRESS MAC' (like 'fd00::1 02:00:00:00:00:01')`;
      const ip = parseIPv6(w[0]);
      if (ip === undefined) return `entry '${e}': '${w[0]}' is not an IPv6 address`;
      if (ip >> 120n === 0xffn) return `entry '${e}': '${w[0]}' is a multicast address`;
    }
    return undefined;
  },
  // Parsed once, here: the native side reads the typed entries.
  plan: (config) => ({
    compiledEntries: config.entries.map((e) => {
      const [ip, mac] = e.trim().split(/\s+/);
      return { ip, mac };
    }),
  }),
  examples: [
    "FromDevice({ device: 'eth0' }).to(IP6NDAdvertiser({ entries: ['fd00::1 02:00:00:00:00:01'] })).to(ToDevice({ device: 'eth0' }))",
  ],
});
