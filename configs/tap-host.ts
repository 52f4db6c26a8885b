// A host-facing TAP device bridged to a network device: the graph creates the TAP device `tap`
// (Tap element, through /dev/net/tun); every frame the host stack sends through the TAP goes
// out on `dev`, and every frame received on `dev` is handed to the host stack through the TAP
// (FromDevice -> Tap -> ToDevice, no learning, no filtering). To the host, the TAP interface
// is then plugged into the segment of `dev`. Counters `to_host` and `from_host` count the
// frames each way. Needs root (CAP_NET_ADMIN for the TAP, CAP_NET_RAW for AF_PACKET).
//
// Try it in a lab (as root): configs/lab-tap.json makes namespace h1 (198.18.0.1/24), joined
// by a veth pair to the root namespace, where the engine opens its end pg-tap1-0b, and an
// empty namespace h2 that will hold the TAP device:
//
//   pktgraph lab up configs/lab-tap.json                       # lab 'tap1'
//   pktgraph run configs/tap-host.ts -p dev=pg-tap1-0b &       # creates pg-tap0 (the defaults)
//   ip link set pg-tap0 netns pg-tap1-h2                       # the TAP into h2 (the graph keeps it)
//   ip -n pg-tap1-h2 addr add 198.18.0.2/24 dev pg-tap0
//   ip -n pg-tap1-h2 link set pg-tap0 up                       # moving it took it down
//   pktgraph lab exec h2 -- ping -c 3 198.18.0.1               # h2 -> TAP -> engine -> h1 and back
//   pktgraph read to_host.count                                # frames handed to h2's stack
//   kill %1; pktgraph lab down tap1                            # the TAP disappears with the graph
//
// Only addresses in 198.18.0.0/15 and fd00::/8, and only inside lab namespaces: the TAP is an
// interface of whichever namespace holds it. `promisc` makes `dev` deliver frames addressed
// to the TAP's MAC address (a physical NIC filters them out otherwise).
import { graph, FromDevice, ToDevice, Tap, Counter } from 'pktgraph';

export default graph({ name: 'tap-host', params: { tap: 'pg-tap0', dev: 'pg-tap1-0b', mac: '' } }, (p) => {
  const tap = Tap({ device: String(p.tap), mac: String(p.mac) }, 'tap');
  FromDevice({ device: String(p.dev), promisc: true }, 'rx').to(Counter({}, 'to_host')).to(tap);
  tap.to(Counter({}, 'from_host')).to(ToDevice({ device: String(p.dev) }, 'tx'));
});
