import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';

// Port names: what `port.add` accepts (src/service/api.ts, PortName) and what FromPort and ToPort name.
export const PORT_NAME_PATTERN = '^[A-Za-z0-9_-]{1,32}$';

/** The config fields FromPort and ToPort share: the port they attach to and their VLAN. */
export const attachmentFields = (vlanDescription: string) => ({
  port: Type.String({ pattern: PORT_NAME_PATTERN, description: 'The shared port (as `pktgraph port add` named it).' }),
  vlan: Type.Optional(Type.Integer({ minimum: 0, maximum: 4094, default: 0, description: vlanDescription })),
});

export const PortDemux = defineElement({
  name: 'PortDemux',
  group: 'io',
  summary: "A shared port's ingress: hands each frame to the virtual router that claims its VLAN and destination MAC (the engine builds it; see FromPort).",
  doc: `The ingress half of a port shared by virtual routers (\`pktgraph port add\`; docs/virtual-routers.md).
The engine opens the port's device once, in a system graph of its own: FromDevice (or Tap) -> PortDemux,
and HTBSched -> ToDevice (or the same Tap) for egress. PortDemux registers the port under \`port\` (one
name per engine process); router graphs reach it by that name with FromPort (ingress) and ToPort (egress).

Each frame is demultiplexed by its 802.1Q VLAN ID (an untagged frame belongs to the untagged segment),
(from the frame's 802.1Q tag, or from the VLAN annotation when the device took the tag out, as FromDevice does),
then, among the routers on that VLAN, by destination MAC: a unicast frame goes to the router that claims
its destination address, else to the one router on the VLAN that claims no address (it takes every
unicast frame nobody else claims), else nowhere. Broadcast and multicast frames (ARP, ND) are copied to
every router on their VLAN, and to no other. A tagged frame loses its tag on the way (the router sees
the untagged frame; the tag stays in the VLAN annotation). Frames nobody claims are dropped and counted by
reason (\`drops_unclaimed_vlan\`, \`drops_unclaimed_mac\`); a frame a router's ring has no room for is
dropped and counted here in \`drops_ring_full\` and in that router's FromPort (\`drops_ring_full\`).

Each router has its own ingress ring. The table of claims is immutable and published through one
atomic pointer (RCU-style): a router attaching or detaching never stops the demux or the other routers'
traffic, and a detached router's ring is freed only once no worker can still be using it. No lock, no
allocation per packet; a batch is sorted into per-router bursts, one ring operation per router.

\`scheduler\` names the port graph's HTBSched (key \`table_id\`), through which ToPort sends each router's
egress: one class per attached router under the link class \`link\`.`,
  inputs: '1',
  outputs: '0',
  processing: 'h/',
  config: Type.Object(
    {
      port: Type.String({ pattern: PORT_NAME_PATTERN, description: "The port's name, which FromPort and ToPort give (1 to 32 letters, digits, '_' or '-')." }),
      scheduler: Type.Optional(Type.String({ default: '', description: "The element of this graph (an HTBSched keyed by table_id) that takes the routers' egress; '' for a port without egress." })),
      link: Type.Optional(Type.String({ default: 'link', description: "The scheduler's class holding the link's rate, under which each router gets its class." })),
    },
    { additionalProperties: false },
  ),
  counters: {
    frames: 'frames received from the device',
    delivered: 'frames (and broadcast copies) put on a router ring',
    copies: 'extra copies made of broadcast and multicast frames (one per router on the VLAN, less one)',
    drops_short: 'frames dropped because they were shorter than an Ethernet (or 802.1Q) header',
    drops_unclaimed_vlan: 'frames dropped because no router claims their VLAN (or the untagged segment)',
    drops_unclaimed_mac: 'unicast frames dropped because no router on their VLAN claims their destination MAC',
    drops_ring_full: "frames dropped because their router's ingress ring was full (its FromPort counts them too)",
    drops_pool_empty: 'broadcast copies dropped because the packet pool was empty',
  },
  handlers: {
    attachments: { doc: 'every claim on the port, one per line: ROUTER vlan=V macs=M,... element=E ring=USED/CAPACITY ring_full=N', read: true },
  },
});
