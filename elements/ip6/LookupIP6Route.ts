import { defineElement } from '../../src/graph/descriptor.js';
import { checkRoutes, lookupDescriptorParts, planRoutes } from '../lib/routeText.js';

export const LookupIP6Route = defineElement({
  name: 'LookupIP6Route',
  group: 'ip6',
  summary: 'IPv6 longest-prefix-match routing: sends each packet to the output of its route and sets the next-hop annotation.',
  ...lookupDescriptorParts({
    width: 128,
    click: "Click's LookupIP6Route (the IPv6 twin of IPLookup)",
    examples: ['2001:db8::/32 1', '2001:db8::/32 fe80::1 1', 'default via fe80::1 dev 0', 'fd00:1::/48 dev 2'],
    defaultPrefix: '::/0',
    annotation: 'the IPv6 destination-address annotation (`dst_ip6`) if it is set\n(not all zero)',
    headerBytes: 40,
    setAnnotation: 'the IPv6 destination annotation',
    fullTable: 'about 3 MB and over 40 M lookups/s per core\nfor a full Internet table of 160k routes',
    updates: ['160k table', 'about 30 ms for 160k routes'],
  }),
  inputs: '1',
  outputs: '1-',
  processing: 'h/h',
  check: (config, ports) => checkRoutes(config, 128, ports.outputs),
  plan: planRoutes,
  examples: [
    "FromPcap({ file: 'in.pcap' }).to(LookupIP6Route({ routes: ['2001:db8::/32 via fe80::1 dev 0', 'default dev 1'] }, 'rt')); // rt.out(0), rt.out(1)",
  ],
});
