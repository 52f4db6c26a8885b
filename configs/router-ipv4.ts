// An IPv4 router for three interfaces, built by ipRouter (src/recipes/router.ts) from this
// description: ARP, local ping, header checks, Record Route/Timestamp options, TTL, fragmentation
// to each link's MTU, and the ICMP errors (time exceeded, net unreachable, fragmentation needed,
// parameter problem). Needs root (AF_PACKET). `pktgraph graph configs/router-ipv4.ts | dot -Tsvg`
// draws it.
//
// Try it in a lab (as root): three hosts h1, h2, h3 on 198.18.1.0/24, .2.0/24, .3.0/24, each
// routing through the router (.254); the lab's id is fixed, so the engine's ends are pg-rt01-0b,
// pg-rt01-1b and pg-rt01-2b, this graph's defaults:
//
//   pktgraph lab up configs/lab-router.json
//   pktgraph run configs/router-ipv4.ts -p mtu2=1000 &
//   pktgraph lab exec h1 -- ping -c 3 198.18.2.1              # through the router
//   pktgraph lab exec h1 -- ping -c 1 -t 1 198.18.3.1         # Time to live exceeded, from 198.18.1.254
//   pktgraph lab exec h1 -- ping -c 1 198.19.0.1              # Destination Net Unreachable
//   pktgraph lab exec h1 -- ping -c 1 -M do -s 1200 198.18.3.1   # Frag needed (mtu = 1000)
//   pktgraph read if0_check.drops_checksum                    # drops by reason, per interface
//   pktgraph read rt.table
//   pktgraph lab down rt01
import { ipRouter } from 'pktgraph';

export default ipRouter({ name: 'router-ipv4', params: { dev0: 'pg-rt01-0b', dev1: 'pg-rt01-1b', dev2: 'pg-rt01-2b', mtu2: 1500 } }, (p) => ({
  interfaces: [
    { device: p.dev0, ipv4: '198.18.1.254/24' },
    { device: p.dev1, ipv4: '198.18.2.254/24' },
    { device: p.dev2, ipv4: '198.18.3.254/24', mtu: p.mtu2 },
  ],
  // A network behind h3 (give h3 the address: ip addr add 198.18.100.1/32 dev lo).
  routes: ['198.18.100.0/24 via 198.18.3.1'],
}));
