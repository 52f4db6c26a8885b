// A dual-stack (IPv4 and IPv6) router for three interfaces, built by ipRouter
// (src/recipes/router.ts): configs/router-ipv4.ts plus, per interface, neighbour discovery
// (IP6NDAdvertiser, IP6NDSolicitor), IPv6 header checks, hop limits, ICMPv6 echo and errors
// (time exceeded, no route). Needs root (AF_PACKET).
//
// Try it in a lab (as root), as configs/router-ipv4.ts says, with IPv6 too:
//
//   pktgraph lab up configs/lab-router.json
//   pktgraph run configs/router-dual-stack.ts -p mtu2=1280 &
//   pktgraph lab exec h1 -- ping -c 3 fd00:2::1
//   pktgraph lab exec h1 -- ping -c 3 198.18.3.1
//   pktgraph lab exec h1 -- traceroute -n 198.18.2.1          # the router, then h2
//   pktgraph lab exec h1 -- ping -c 1 -s 1300 fd00:3::1       # Packet too big: mtu=1280
//   pktgraph read if0_check6.drops_payload_length
//   pktgraph lab down rt01
import { ipRouter } from 'pktgraph';

export default ipRouter({ name: 'router-dual-stack', params: { dev0: 'pg-rt01-0b', dev1: 'pg-rt01-1b', dev2: 'pg-rt01-2b', mtu2: 1500 } }, (p) => ({
  interfaces: [
    { device: p.dev0, ipv4: '198.18.1.254/24', ipv6: 'fd00:1::fe/64' },
    { device: p.dev1, ipv4: '198.18.2.254/24', ipv6: 'fd00:2::fe/64' },
    { device: p.dev2, ipv4: '198.18.3.254/24', ipv6: 'fd00:3::fe/64', mtu: p.mtu2 },
  ],
  routes: ['198.18.100.0/24 via 198.18.3.1', 'fd00:100::/64 via fd00:3::1'],
}));
