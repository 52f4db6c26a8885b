import { Type } from 'typebox';
import { defineElement } from '../../src/graph/descriptor.js';
import { attachmentFields } from './PortDemux.js';

export const ToPort = defineElement({
  name: 'ToPort',
  group: 'io',
  summary: "Sends a virtual router's frames out of a port shared by several, through the port's hierarchical scheduler under the router's bandwidth share.",
  doc: `Sends every frame pushed into it out of the shared port \`port\` (made by \`pktgraph port add\`; see
docs/virtual-routers.md). With \`vlan\` (1 to 4094) the frame gets that 802.1Q tag first (0, the default:
it leaves untagged).

The frames of all routers on a port go through the port's HTBSched: at load the element adds the
router's class (named after the router) under the port's link class, with the router's bandwidth
share: \`guarantee\` (HTB's rate: kept under contention), \`limit\` (HTB's ceil: never exceeded; 0, the
default, is the port's rate) and \`weight\` (its part of the capacity nobody's guarantee uses), in bits
per second, or with \`unit: 'packets'\` in packets per second (the class counts frames, whatever their
size, while the port's own class goes on counting bits), and \`capacity\` frames of queue. The class
saves up to 20 ms of its guarantee and of its limit (HTB's default is 1 ms), so a worker kept off its
CPU for a few milliseconds costs the router none of its share; it starts with no credit, so a router
that arrives does not burst above its share while the others' settle. The guarantees of a port's
routers may not add up to more than the port's rate (the load is refused, naming the class); the
operations layer counts a guarantee in packets/s at full-size frames there (docs/virtual-routers.md). \`pktgraph vr share ROUTER PORT\` changes
the share while the router runs; a hot reconfiguration whose ToPort names the same port keeps the class
as it is then (with its waiting frames): the running share wins over the new graph's fields, as a
running routing table does. When the graph leaves the engine the class is removed and its waiting frames
freed (the port's \`drops_class_removed\`). If the port itself is closed under the router (a forced
\`port del\`), frames pushed in are freed and counted in \`drops_port_closed\`; the router runs on. A frame is charged to the class with the tag; what the class's
queue has no room for is dropped and counted by the scheduler (\`drops_full\`, and the class's \`drops\`
in the port's \`classes\`).

One ToPort per port in a router (the class is the router's). The class's \`capacity\` counts against
the router's buffers quota: the queue is the port's, the frames in it the router's.`,
  inputs: '1',
  outputs: '0',
  processing: 'h/',
  config: Type.Object(
    {
      ...attachmentFields('The 802.1Q VLAN ID to tag frames with; 0: untagged.'),
      unit: Type.Optional(
        Type.Union([Type.Literal('bits'), Type.Literal('packets')], { default: 'bits', description: "What guarantee and limit count: 'bits' (bits/s) or 'packets' (packets/s)." }),
      ),
      guarantee: Type.Optional(Type.Number({ minimum: 0, maximum: 1e12, default: 0, description: "The router's guaranteed rate on the port, bits/s or packets/s (0: none guaranteed)." })),
      limit: Type.Optional(Type.Number({ minimum: 0, maximum: 1e12, default: 0, description: "The most the router may send on the port, bits/s or packets/s (0: the port's rate)." })),
      weight: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000, default: 1, description: "The router's share of the port's spare capacity, against the other routers' weights." })),
      capacity: Type.Optional(Type.Integer({ minimum: 1, maximum: 1048576, default: 1000, description: "Frames the router's queue in the port's scheduler holds." })),
    },
    { additionalProperties: false },
  ),
  // Its class's queue is in the port's scheduler, but the frames in it are the router's.
  quotas: { buffers: 'capacity' },
  counters: {
    packets: 'frames handed to the port',
    bytes: 'bytes of those frames (tag included)',
    drops_short: 'frames dropped because they were shorter than an Ethernet header',
    drops_no_headroom: 'frames dropped because there was no room to add the VLAN tag',
    drops_port_closed: 'frames dropped because the port was deleted while the router was attached',
  },
  handlers: {
    share: {
      doc: "the router's share on the port as JSON ({\"unit\", \"guarantee\", \"limit\", \"weight\"}); written (any of them; the rest stay; a new unit with the guarantee and limit in it), it changes the router's class at once (what `pktgraph vr share` does), refused with nothing changed when the port's guarantees would exceed its rate",
      read: true,
      write: true,
    },
  },
  check: (config) => {
    if (config.limit && config.guarantee && config.limit < config.guarantee)
      return `config field 'limit': ${config.limit} ${config.unit === 'packets' ? 'packets/s' : 'bit/s'} is below the guarantee ${config.guarantee} ${config.unit === 'packets' ? 'packets/s' : 'bit/s'}; a limit must be at least the guarantee`;
    return undefined;
  },
  examples: ["ToPort({ port: 'uplink', vlan: p.vlan, guarantee: 10e6, limit: 50e6, weight: 2 }, 'out')"],
});
