import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';
import { etherAddress, ipv4Prefix } from '../../src/graph/types.js';
import { netmaskLength, parseIPv4, parseMac, parsePrefix } from '../../src/util/address.js';

/** The error in one ARPResponder entry ('ADDRESS[/LEN] [ADDRESS[/LEN] ...] MAC', LEN a length or
 *  a dotted netmask), or undefined. */
export function arpEntryError(entry: string): string | undefined {
  const w = entry.trim().split(/\s+/);
  const form = `entry '${entry}' is not 'ADDRESS[/LEN] ... MAC' (like '10.0.0.1 02:00:00:00:00:01' or '10.0.0.0/24 10.0.1.1 02:00:00:00:00:01')`;
  if (w.length < 2 || parseMac(w[w.length - 1]) === undefined) return form;
  for (const a of w.slice(0, -1)) {
    const [addr, len, extra] = a.split('/');
    if (extra !== undefined || !/^[0-9.]+$/.test(addr)) return form;
    if (parseIPv4(addr) === undefined) return `entry '${entry}': '${addr}' is not an IPv4 address`;
    const prefix = len === undefined ? undefined : parsePrefix(a, { width: 32, netmask: true });
    if (typeof prefix === 'string') return `entry '${entry}': '/${len}': a prefix length is a number at most 32 or a dotted netmask like 255.255.255.0`;
  }
  return undefined;
}

export const ARPResponder = defineElement({
  name: 'ARPResponder',
  group: 'ethernet',
  summary: 'Answers ARP requests for the addresses it is configured with (Click\'s ARPResponder).',
  doc: `Click's ARPResponder(IP MAC, ...). Each entry of \`entries\` is \`ADDRESS[/LEN] [ADDRESS[/LEN] ...] MAC\`: a
request for one of the addresses (with \`/LEN\`, for any address in that prefix: proxy ARP) is answered
with MAC. LEN is a prefix length or, as in Click, a dotted netmask (\`198.18.0.0/255.255.255.0\` is
\`198.18.0.0/24\`; a mask whose one bits are not together at the top is refused). When several entries match, the longest prefix wins; an entry for a prefix already listed
replaces the earlier one (as in Click, the later wins).

Input 0 takes Ethernet frames. An ARP request (EtherType 0x0806, hardware type 1, protocol type
0x0800, hardware length 6, protocol length 4, operation 1) whose target protocol address matches
an entry is turned, in place, into the reply: operation 2, the sender hardware and protocol
addresses (the requester) become the target ones, the entry's MAC and the requested address become
the sender ones, and the Ethernet header goes from the entry's MAC to the requester's hardware
address (the ARP sender hardware address). The frame keeps its length (padding included) and goes
to output 0, counted in \`replies\`.

Everything else is dropped: a frame too short for an Ethernet header and an ARP message (42 bytes),
or an ARP frame whose hardware/protocol types or lengths are not Ethernet/IPv4, is counted in
\`drops_malformed\`; a frame of another EtherType, or an ARP frame that is not a request, in
\`drops_not_request\`; a request for an address no entry matches, in \`drops_no_entry\`. A request
is answered whatever its Ethernet destination. Entries are looked up by a linear scan (ARP
responders hold a handful). Click's optional output 1 for unanswered requests is not offered.

Handlers (Click's): \`table\` lists the entries, longest prefix first, one per line as \`ADDRESS/LEN MAC\`;
\`add\` takes entries (one per line, in the form above) and adds them, replacing entries for the same
prefixes; \`remove\` takes \`ADDRESS[/LEN]\` (one per line) and removes the entry for exactly that prefix,
an error naming it if there is none; both are all or nothing and change the entries while the graph
is paused (no packet sees half a change). \`lookup\` takes an IPv4 address and looks it up as a request
would be; \`lookup_result\` then reads the MAC that answers it, or nothing (the empty string, as
Click's \`lookup\`, a read handler with a parameter there).`,
  inputs: '1',
  outputs: '1',
  processing: 'h/h',
  config: Type.Object(
    {
      entries: Type.Array(Type.String(), {
        minItems: 1,
        description: "Addresses answered, one MAC per entry: 'ADDRESS[/LEN] [ADDRESS[/LEN] ...] MAC', e.g. '10.0.0.1 02:00:00:00:00:01' or '10.0.0.1 10.0.7.0/24 02:00:00:00:00:01'.",
      }),
      compiledEntries: Type.Optional(
        Type.Array(Type.Object({ prefix: ipv4Prefix('An address or prefix answered.'), mac: etherAddress('The MAC that answers it.') }), {
          description: "Filled in by the compiler from 'entries' (one {prefix, mac} per address, typed); leave it out.",
        }),
      ),
    },
    { additionalProperties: false },
  ),
  counters: {
    replies: 'ARP requests answered (replies sent)',
    drops_not_request: 'frames dropped because they are not ARP, or are ARP but not requests',
    drops_no_entry: 'ARP requests dropped because no entry matches their target address',
    drops_malformed: 'frames dropped because they are too short (42 bytes) or their ARP header is not Ethernet/IPv4',
  },
  handlers: {
    table: { doc: "the entries, longest prefix first: 'ADDRESS/LEN MAC' per line", read: true },
    add: { doc: "write entries ('ADDRESS[/LEN] ... MAC', one per line): added, replacing those for the same prefixes; all or nothing", write: true },
    remove: { doc: "write prefixes ('ADDRESS[/LEN]', one per line): the entry for exactly each is removed; all or nothing", write: true },
    lookup: { doc: 'write an IPv4 address: looks it up as a request for it would be; read the answer from lookup_result', write: true },
    lookup_result: { doc: 'the MAC that answers the last lookup, or the empty string', read: true },
  },
  check: (config) => {
    if (config.compiledEntries) return "config field 'compiledEntries' is filled in by the compiler from 'entries': leave it out";
    for (const e of config.entries) {
      const err = arpEntryError(e);
      if (err) return err;
    }
    return undefined;
  },
  // Parsed once, here: the native side reads the typed entries (the compiler types the addresses).
  plan: (config) => ({
    compiledEntries: config.entries.flatMap((e) => {
      const w = e.trim().split(/\s+/);
      // A dotted netmask (Click's 10.0.0.0/255.255.255.0) becomes its length here.
      const withLength = (a: string) => a.replace(/\/(.*\..*)$/, (_, mask: string) => `/${netmaskLength(mask)}`);
      return w.slice(0, -1).map((prefix) => ({ prefix: withLength(prefix), mac: w[w.length - 1] }));
    }),
  }),
  examples: [
    "const c = FromDevice({ device: 'eth0' }).to(Classifier({ patterns: ['12/0806 20/0001', '-'] })); c.out(0).to(ARPResponder({ entries: ['192.0.2.1 02:00:00:00:00:01'] })).to(ToDevice({ device: 'eth0' })); c.out(1).to(Discard())",
  ],
});
