// A router for three interfaces with NAT, built by ipRouter (src/recipes/router.ts): two inside
// networks and an outside one. Inside hosts reach the outside as the router's outside address
// (source NAT, IPv4 only); TCP port 8080 on that address is forwarded to a server on h1. The
// rest is configs/router-ipv4.ts: ARP, ping, header checks, TTL, fragmentation, ICMP errors.
// Needs root (AF_PACKET).
//
// Try it in a lab (as root): h1 (198.18.1.1) and h2 (198.18.2.1) inside, each routing through
// the router, and `outside` (198.19.0.1, no route to the inside at all: only NAT lets it answer);
// the lab id is fixed, so the engine's ends are pg-rtnat-0b, -1b and -2b, this graph's defaults:
//
//   pktgraph lab up configs/lab-router-nat.json
//   pktgraph run configs/router-nat.ts -p mtu2=1000 &
//   pktgraph lab exec h1 -- ping -c 3 198.19.0.1                # through NAT
//   pktgraph lab exec h2 -- ping -c 1 -t 1 198.19.0.1           # Time to live exceeded, from 198.18.2.254
//   pktgraph lab exec outside -- python3 -m http.server -b 198.19.0.1 8000 &
//   pktgraph lab exec h2 -- curl -s 198.19.0.1:8000/ > /dev/null   # its log shows 198.19.0.254
//   pktgraph lab exec h1 -- ping -c 1 -M do -s 1200 198.19.0.1  # Frag needed (mtu = 1000), through the NAT back
//   pktgraph read nat.table                                     # the mappings
//   pktgraph lab exec h1 -- python3 -m http.server -b 198.18.1.1 80 &
//   pktgraph lab exec outside -- curl -s 198.19.0.254:8080/     # the port forward to h1:80
//   pktgraph lab down rtnat
import { ipRouter } from 'pktgraph';

export default ipRouter({ name: 'router-nat', params: { dev0: 'pg-rtnat-0b', dev1: 'pg-rtnat-1b', dev2: 'pg-rtnat-2b', mtu2: 1500 } }, (p) => ({
  interfaces: [
    { device: p.dev0, ipv4: '198.18.1.254/24' },
    { device: p.dev1, ipv4: '198.18.2.254/24' },
    { device: p.dev2, ipv4: '198.19.0.254/24', name: 'up', mtu: p.mtu2 },
  ],
  nat: { outside: 'up', forwards: [{ proto: 'tcp', port: 8080, to: '198.18.1.1:80' }] },
}));
