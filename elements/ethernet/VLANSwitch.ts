import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';
import { filterRules, programFor } from '../../src/filter/index.js';

const vid = Type.Integer({ minimum: 1, maximum: 4094 });

/** One switch port's settings (also a lab scenario's `interfaces[].port`, src/lab/scenario-schema.ts). */
export const VLANSwitchPort = Type.Object(
  {
    mode: Type.Optional(Type.Union([Type.Literal('access'), Type.Literal('trunk')], { default: 'access', description: "'access' (one VLAN, untagged) or 'trunk' (tagged, the allowed VLANs)." })),
    vlan: Type.Optional(Type.Integer({ minimum: 1, maximum: 4094, default: 1, description: "An access port's VLAN." })),
    allowed: Type.Optional(Type.Array(vid, { maxItems: 4094, default: [], description: "A trunk port's VLANs; empty: all (1 to 4094)." })),
    nativeVlan: Type.Optional(Type.Integer({ minimum: -1, maximum: 4094, default: -1, description: "A trunk port's native VLAN (sent and received untagged); -1: none, untagged frames are dropped." })),
    aclIn: Type.Optional(Type.Array(Type.String(), { maxItems: 1024, default: [], description: "IPFilter rules for frames arriving on the port ('allow EXPR', 'deny EXPR'); empty: all pass." })),
    aclOut: Type.Optional(Type.Array(Type.String(), { maxItems: 1024, default: [], description: 'IPFilter rules for frames leaving by the port; empty: all pass.' })),
  },
  { additionalProperties: false },
);

export const VLANSwitch = defineElement({
  name: 'VLANSwitch',
  group: 'ethernet',
  summary: 'A VLAN-aware learning Ethernet switch: access and trunk ports, per-VLAN learning and flooding, port ACLs and a port mirror.',
  doc: `EtherSwitch grown into the switch of a hypervisor or a managed switch. Port i is input i and
output i; \`ports\` describes each one (as many entries as ports). Click has no such element; it takes
the name VLANClassifier's documentation keeps for it.

**Ports.** An \`access\` port belongs to one VLAN (\`vlan\`) and carries its frames untagged: an
untagged (or priority-tagged, VLAN id 0) frame arriving there belongs to that VLAN; a frame tagged
with another VLAN id is dropped (\`drops_vlan\`). A \`trunk\` port carries the VLANs in \`allowed\`
(empty: all, 1 to 4094) tagged with an 802.1Q tag (TPID 0x8100; the priority bits are kept from the
arriving tag); its \`nativeVlan\` (carried whether listed in \`allowed\` or not) travels untagged both ways, and without one (-1) untagged frames
arriving there are dropped (\`drops_vlan\`), as are frames tagged with a VLAN the port does not allow.

**Switching.** Learning and lookups are per VLAN: the table's key is the VLAN and the MAC address, so
one address may live on different ports in different VLANs. A frame goes to the port its destination
was learned on in its VLAN; a broadcast, multicast or unknown destination floods the VLAN: a copy to
every other port that carries the VLAN, and to no other port. A frame never leaves by a port outside its
VLAN (checked again at the output, so a port changed through the \`port\` handler never receives an old
VLAN's frame). A destination learned on the arrival port is dropped (\`drops_same_port\`); a flood in a VLAN
with no other port is dropped (\`drops_flood_none\`). Frames shorter than 14 bytes (18 when tagged) are
dropped (\`drops_short\`). The table holds \`capacity\` entries; entries age out \`timeout\` seconds after the
last frame from their address; a new address finding the table full (of live entries) is not learned
(\`table_full\`; its frames are still forwarded).

**ACLs.** \`aclIn\` and \`aclOut\` are IPFilter rules (\`allow EXPR\`, \`deny EXPR\`; first match decides, no
match drops) with tcpdump's expression syntax, compiled once by the project's filter compiler. They see
the frame as it is on that port's wire: with its tag on a trunk (write \`vlan 10 and ip\`, as with tcpdump
on that link), untagged on an access port. Frames dropped by them are counted in \`drops_acl_in\` and
\`drops_acl_out\`. An empty list lets everything through.

**Mirror.** \`mirror.port\` (-1: none) is a mirror (SPAN) destination: it takes part in no VLAN, frames
arriving on it are dropped (\`drops_mirror_port\`), and it receives a copy of every frame arriving on
(\`direction\` \`in\`: before the in-ACL) or leaving by (\`out\`: after the out-ACL) the ports listed in
\`mirror.sources\` (\`both\`: either), as those frames are on the source port's wire (tagged on a trunk).
\`mirrored\` counts the copies; one the packet pool cannot give is counted in \`drops_pool_empty\`, as
are flood copies.

**Handlers.** \`table\` lists the live entries (MAC, VLAN, port, age in seconds), \`vlans\` the ports'
VLAN settings, one line per port (\`0 access 10\`, \`1 trunk 10,20 native 1\`, \`2 trunk all\`, \`3 mirror\`);
\`port\` changes one port (\`1 access 20\`, \`2 trunk 10,20 native 1\`, \`2 trunk all\`) and forgets the
addresses learned on it; \`mirror\` reads or sets the mirror (\`3 0,1 both\` or \`off\`); \`timeout\` reads or sets
the ageing time. The ACLs change by reconfiguring the graph (their expressions are compiled in
TypeScript); the learned addresses carry over a hot reconfiguration, as EtherSwitch's do.

A batch is switched under a spin lock (ports may be pushed from several workers), which is released
before the frames go on, one batch per port in arrival order. So a port's output may lead back into the
same port's input with no Queue between (a DHCPServer or a host's Tap on a port, as in
configs/vswitch-host-only.ts): a frame never leaves by the port it came in on, so that cannot loop.
A loop through two ports (a switching loop: the switch runs no spanning tree) is cut after 8 nested
passes and counted in \`drops_loop\`.`,
  inputs: '-',
  outputs: '-',
  processing: 'h/h',
  endsPushCycles: 'a frame never leaves by the port it came in on, so a port whose output leads back to its own input (a DHCP server, a host TAP) cannot loop; a loop through two ports is cut after 8 nested passes (drops_loop)',
  copiesPackets: 'it floods broadcast, multicast and unknown-destination frames to the other ports of their VLAN, and copies frames to the mirror port',
  config: Type.Object(
    {
      ports: Type.Array(VLANSwitchPort, { minItems: 1, maxItems: 256, description: 'One entry per port: { mode, vlan, allowed, nativeVlan, aclIn, aclOut }.' }),
      mirror: Type.Optional(
        Type.Object(
          {
            port: Type.Optional(Type.Integer({ minimum: -1, maximum: 255, default: -1, description: 'The mirror destination port; -1: no mirror.' })),
            sources: Type.Optional(Type.Array(Type.Integer({ minimum: 0, maximum: 255 }), { maxItems: 256, default: [], description: 'The ports whose frames are copied.' })),
            direction: Type.Optional(Type.Union([Type.Literal('in'), Type.Literal('out'), Type.Literal('both')], { default: 'both', description: "Frames arriving ('in'), leaving ('out') or both." })),
          },
          { additionalProperties: false, default: { port: -1, sources: [], direction: 'both' }, description: 'A port mirror: { port, sources, direction }.' },
        ),
      ),
      timeout: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 31536000, default: 300, description: 'Seconds after which an address not seen again is forgotten.' })),
      capacity: Type.Optional(Type.Integer({ minimum: 1, maximum: 1048576, default: 4096, description: 'Most (VLAN, address) entries the table holds.' })),
      programs: Type.Optional(
        Type.Array(Type.String(), { maxItems: 512, default: [], description: "Filled in by the compiler from the ports' ACLs (in and out per port); leave it empty." }),
      ),
    },
    { additionalProperties: false },
  ),
  counters: {
    forwarded: 'frames sent to the one port where their destination was learned in their VLAN',
    flooded: 'frames flooded to the other ports of their VLAN; counted once per frame, not per copy',
    mirrored: 'copies sent to the mirror port',
    drops_vlan: "frames dropped because their VLAN is not carried by the port they arrived on (tagged on an access port, untagged on a trunk without a native VLAN, a VLAN the trunk does not allow)",
    drops_acl_in: "frames dropped by the arrival port's aclIn",
    drops_acl_out: "frames (or flood copies) dropped by the leaving port's aclOut",
    drops_same_port: 'frames dropped because their destination was learned on the port they came in on',
    drops_flood_none: 'frames dropped because their VLAN has no other port to flood to',
    drops_mirror_port: 'frames dropped because they arrived on the mirror port',
    drops_short: 'frames dropped because they are shorter than an Ethernet header (14 bytes, 18 tagged)',
    drops_loop: 'frames dropped because they came back into the switch through a loop of its ports more than 8 times',
    drops_no_headroom: 'frames dropped because there was no headroom to insert a trunk tag',
    drops_pool_empty: 'flood or mirror copies dropped (not made) because the packet pool was empty',
    table_full: 'source addresses not learned because the table was full',
  },
  handlers: {
    table: { doc: 'the live entries, one per line: MAC VLAN port age-in-seconds', read: true },
    vlans: { doc: "the ports' VLAN settings, one per line: 'N access VLAN', 'N trunk VLANS|all [native V]' or 'N mirror'", read: true },
    port: { doc: "change one port: 'N access VLAN' or 'N trunk VLANS|all [native V]' (its learned addresses are forgotten)", write: true },
    mirror: { doc: "read or set the mirror: 'PORT SOURCES in|out|both' (sources comma-separated) or 'off'", read: true, write: true },
    timeout: { doc: 'read or set the entry timeout in seconds', read: true, write: true },
  },
  check: (c, ports) => {
    if (ports.inputs !== ports.outputs)
      return `a VLANSwitch port is an input and an output: ${ports.inputs} input(s) but ${ports.outputs} output(s) are connected; connect the same number`;
    if (c.ports.length !== ports.outputs)
      return `'ports' describes ${c.ports.length} port(s) but ${ports.outputs} are connected: give one entry per connected port`;
    if (c.programs && c.programs.length) return "config field 'programs' is filled in by the compiler from the ports' ACLs: leave it out";
    for (const [i, p] of c.ports.entries()) {
      if (p.mode === 'access' && ((p.allowed ?? []).length || (p.nativeVlan ?? -1) !== -1))
        return `ports[${i}] is an access port: 'allowed' and 'nativeVlan' are for trunks (set mode: 'trunk' or use 'vlan')`;
      for (const dir of ['aclIn', 'aclOut'] as const) {
        const rules = p[dir] ?? [];
        let r;
        try {
          r = programFor(() => filterRules(rules));
        } catch (e) {
          return `ports[${i}].${dir}: ${(e as Error).message}`;
        }
        if (r.error) return `ports[${i}].${dir}: ${r.error}`;
        if (rules.some((x) => /^\s*[0-9]/.test(x))) return `ports[${i}].${dir}: an ACL rule is 'allow EXPR' or 'deny EXPR', not an output number`;
      }
    }
    const m = c.mirror;
    if (m && m.port !== undefined && m.port >= 0) {
      if (m.port >= ports.outputs) return `mirror.port ${m.port} is not a port (the switch has ${ports.outputs}): use 0 to ${ports.outputs - 1}, or -1 for no mirror`;
      for (const s of m.sources ?? []) {
        if (s >= ports.outputs) return `mirror.sources: port ${s} is not a port (the switch has ${ports.outputs})`;
        if (s === m.port) return `mirror.sources: port ${s} is the mirror port itself: mirror other ports`;
      }
    } else if ((m?.sources ?? []).length) return "mirror.sources is set but mirror.port is not: name the mirror port";
    return undefined;
  },
  plan: (c) => ({
    programs: c.ports.flatMap((p) => [p.aclIn ?? [], p.aclOut ?? []].map((rules) => (rules.length ? programFor(() => filterRules(rules)).program! : ''))),
  }),
  examples: [
    "const sw = VLANSwitch({ ports: [{ vlan: 10 }, { vlan: 20 }, { mode: 'trunk', allowed: [10, 20] }, {}], mirror: { port: 3, sources: [2] } }, 'sw');",
    "VLANSwitch({ ports: [{ vlan: 10, aclIn: ['deny tcp dst port 23', 'allow all'] }, { vlan: 10 }] })",
    "pktgraph write sw.port '1 trunk 10,20 native 1'",
  ],
});
