import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';
import { etherAddress } from '../../src/graph/types.js';
import { attachmentFields } from './PortDemux.js';

export const FromPort = defineElement({
  name: 'FromPort',
  group: 'io',
  summary: "Receives a virtual router's share of a port shared by several: the frames of its VLAN and MAC addresses (as a NIC's virtual function does).",
  doc: `Attaches the graph (a virtual router) to the shared port \`port\` (made by \`pktgraph port add\`; see
docs/virtual-routers.md) and pushes the frames it claims out of its one output, up to \`burst\` per task
round. The claim: \`vlan\` (an 802.1Q VLAN ID, 1 to 4094; 0, the default, is the untagged segment) and
\`macs\`, the router's own MAC addresses. The port's demultiplexer (PortDemux) gives the router the
unicast frames of its VLAN sent to one of its addresses (with \`macs\` empty: every unicast frame of the
VLAN that no other router there claims), and a copy of every broadcast and multicast frame of its VLAN
(ARP, ND); nothing of another VLAN. A tagged frame arrives untagged, its tag in the VLAN annotation.

The claim is checked when the graph loads: a VLAN (without MAC addresses) or a MAC address on the
VLAN that another router already claims is refused, the error naming that router; a port that does
not exist too. Claims are config fields, so graph parameters set them (\`vlan: p.vlan\`), and a
clone of a router on another VLAN is a parameter change.

The router has its own ingress ring of \`capacity\` frames (counted against its buffers quota), which
the port fills and this element empties: a frame the ring has no room for is dropped and counted in \`drops_ring_full\` (and in the
port's). **CPU share**: each task round the element may spend \`weight\` x 20 µs of worker time pushing
frames into its graph (measured per batch, deficit round-robin: time overspent in one round is paid back
in the next; a router with nothing waiting saves nothing). A flooded router whose graph cannot keep up
therefore uses its share of the worker and no more: its excess waits in, then overflows, its own
ring, counted there, while the other routers on the worker keep theirs. Rounds in which it stopped
with frames still waiting are counted in \`budget_exhausted\`.

While its virtual router is stopped the element goes on emptying its ring, dropping what it reads
(\`drops_stopped\`). When the graph leaves the engine its claim is withdrawn (the demux stops using the
ring first; frames still in it are freed). A hot reconfiguration whose FromPort names the same port,
VLAN and addresses keeps the ring and its frames; one that changes the claim attaches afresh.`,
  inputs: '0',
  outputs: '1',
  processing: '/h',
  config: Type.Object(
    {
      ...attachmentFields('The 802.1Q VLAN ID claimed; 0: the untagged segment.'),
      macs: Type.Optional(Type.Array(etherAddress("One of the router's MAC addresses."), { default: [], maxItems: 64, description: "The router's MAC addresses on the VLAN ([]: every unicast frame of the VLAN no other router claims)." })),
      capacity: Type.Optional(Type.Integer({ minimum: 16, maximum: 65536, default: 1024, description: "Frames the router's ingress ring holds." })),
      burst: Type.Optional(Type.Integer({ minimum: 1, maximum: 256, default: 32, description: 'Most frames pushed per batch.' })),
      weight: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 1, description: "The router's CPU share on its worker: weight x 20 µs of pushing per task round." })),
    },
    { additionalProperties: false },
  ),
  // The ring is the port's, but the frames in it are the router's.
  quotas: { buffers: 'capacity' },
  counters: {
    packets: 'frames taken from the ring and pushed out',
    bytes: 'bytes of those frames',
    drops_ring_full: 'frames for this router dropped by the port because its ingress ring was full (a flood beyond its CPU share)',
    drops_stopped: 'frames read from the ring while its virtual router was stopped, dropped',
    budget_exhausted: 'task rounds that ended with frames waiting because the CPU share for the round was spent',
  },
  check: (config) => {
    const macs = config.macs ?? [];
    for (const m of macs) if (parseInt(m.slice(0, 2), 16) & 1) return `config field 'macs': '${m}' is a multicast address; a router's own address is unicast`;
    if (new Set(macs.map((m) => m.toLowerCase())).size !== macs.length) return "config field 'macs' names an address twice";
    return undefined;
  },
  examples: [
    "FromPort({ port: 'uplink', vlan: p.vlan }, 'in').to(CheckIPHeader({ offset: 14 })) /* ... */",
    "FromPort({ port: 'lan', macs: ['02:00:00:00:0a:01'] }, 'in')",
  ],
});
