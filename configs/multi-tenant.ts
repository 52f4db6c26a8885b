// One tenant's virtual router for the multi-tenant example: three tenants, each with the same
// network 198.18.0.0/24 behind a port of its own, share one uplink split by VLAN (101, 102,
// 103), each with its own routes and a bandwidth guarantee on the uplink. Built by ipRouter:
// the 'up' interface is on the shared port 'uplink' (FromPort claims the VLAN and the router's
// MAC there, ToPort tags frames and sends them under the router's share). Needs root.
//
// Try it in a lab (as root); the lab's id is fixed, so the engine's ends are pg-mt01-0b (the
// uplink) and pg-mt01-1b, -2b, -3b (the tenants' networks, each 198.18.0.1/24 behind the
// router's 198.18.0.254):
//
//   pktgraph lab up configs/lab-multi-tenant.json
//   pktgraph serve --control mt &
//   pktgraph port add uplink pg-mt01-0b --rate 100Mbit --control mt
//   pktgraph vr create t1 configs/multi-tenant.ts -p lan=pg-mt01-1b -p vlan=101 -p guarantee=40e6 -p route=198.18.100.0/24 --start --control mt
//   pktgraph vr create t2 configs/multi-tenant.ts -p lan=pg-mt01-2b -p vlan=102 -p guarantee=30e6 --start --control mt
//   pktgraph vr create t3 configs/multi-tenant.ts -p lan=pg-mt01-3b -p vlan=103 -p guarantee=20e6 -p limit=50e6 --start --control mt
//   pktgraph lab exec t1 -- ping -c 3 198.18.0.254      # each tenant reaches its own router
//   pktgraph lab exec t2 -- ping -c 3 198.18.0.254
//   pktgraph lab exec up -- tcpdump -eni pg-mt01-0a &   # the uplink: each tenant's frames on its VLAN only
//   pktgraph lab exec t1 -- ping -c 1 198.19.0.1        # t1 asks for its upstream gateway on VLAN 101
//   pktgraph port list --control mt                     # attachments, shares, unclaimed frames by reason
//   pktgraph vr share t2 uplink --guarantee 35Mbit --limit 60Mbit --control mt
//   pktgraph read t1/rt.table --control mt              # t1's routes (t2 and t3 have their own)
//   pktgraph vr shutdown --control mt; pktgraph lab down mt01
//
// (The kernel here has no VLAN devices, so the upstream host sees tagged frames but cannot
// answer them; test/multi-tenant.test.ts answers from it with raw sockets.)
import { ipRouter } from 'pktgraph';

export default ipRouter(
  { name: 'tenant', params: { lan: 'pg-mt01-1b', vlan: 101, guarantee: 10e6, limit: 0, route: '' } },
  (p) => ({
    interfaces: [
      { name: 'lan', device: p.lan, ipv4: '198.18.0.254/24' },
      { name: 'up', port: { name: 'uplink', vlan: p.vlan, guarantee: p.guarantee, limit: p.limit }, ipv4: '198.19.0.2/24' },
    ],
    // Every tenant's way out is its upstream gateway on its VLAN; a tenant may add a network of its own.
    routes: ['default via 198.19.0.1', ...(p.route ? [`${p.route} via 198.18.0.1`] : [])],
  }),
);
