import { defineElement } from '../../src/graph/descriptor.js';
import { checkRoutes, lookupDescriptorParts, planRoutes } from '../lib/routeText.js';

export const IPLookup = defineElement({
  name: 'IPLookup',
  group: 'ip',
  summary: 'IPv4 longest-prefix-match routing: sends each packet to the output of its route and sets the next-hop annotation.',
  ...lookupDescriptorParts({
    width: 32,
    click: "Click's StaticIPLookup/RadixIPLookup",
    examples: ['10.0.0.0/8 1', '10.0.0.0/8 192.0.2.1 1', 'default via 192.0.2.1 dev 0', '10.1.0.0/16 dev 2'],
    defaultPrefix: '0.0.0.0/0',
    annotation: 'the destination-address annotation if it is set (non-zero)',
    headerBytes: 20,
    setAnnotation: 'the destination annotation',
    fullTable: 'about 5 MB and over 100 M lookups/s per core\nfor a full Internet table',
    updates: ['902k table', 'about 150 ms for 900k routes'],
    extra:
      "Loading a full table (902k routes): through `file` about 0.5 s of CPU, the file streamed, never held\nwhole; through `routes` (inlined in the graph) the compiler parses them once with the same native\nparser into the plan's typed routes, about 1.7 s of CPU of a compile of about 3 s, and the load\nreads those in about 1.2 s (2026-12-02, a busy 2-vCPU machine).",
  }),
  inputs: '1',
  outputs: '1-',
  processing: 'h/h',
  check: (config, ports) => checkRoutes(config, 32, ports.outputs),
  plan: planRoutes,
  examples: [
    "FromPcap({ file: 'in.pcap' }).to(IPLookup({ routes: ['10.0.0.0/8 via 192.0.2.1 dev 0', 'default dev 1'] }, 'rt')); // rt.out(0), rt.out(1)",
  ],
});
