// A three-port learning switch (EtherSwitch) across three network devices: each device's
// frames (FromDevice, promiscuous, so frames for any MAC address are seen) enter the switch on
// its port, and the switch's output of that port is sent back out on the same device.
//
// Try it in a lab (as root): three namespaces, each joined to the root namespace by a veth
// pair, all in one subnet; the engine switches between the root-side ends. With the id fixed
// to 'sw01' the engine's ends are pg-sw01-0b, pg-sw01-1b and pg-sw01-2b:
//
//   cat > /tmp/sw-lab.json <<'END'
//   { "id": "sw01", "hosts": [{ "name": "h1" }, { "name": "h2" }, { "name": "h3" }],
//     "links": [{ "a": "h1", "b": "engine", "aAddresses": ["198.18.9.1/24"] },
//               { "a": "h2", "b": "engine", "aAddresses": ["198.18.9.2/24"] },
//               { "a": "h3", "b": "engine", "aAddresses": ["198.18.9.3/24"] }] }
//   END
//   pktgraph lab up /tmp/sw-lab.json
//   pktgraph run configs/learning-switch.ts -p dev0=pg-sw01-0b -p dev1=pg-sw01-1b -p dev2=pg-sw01-2b &
//   pktgraph lab exec h1 -- ping -c 3 198.18.9.3   # the first ARP request is flooded, then unicast
//   pktgraph read sw.table                         # the learned MAC addresses, their ports and ages
//   pktgraph lab down sw01
//
// Frames are sent back on the device they belong to, never on the one they came in on; a
// frame whose destination lives on its own port is dropped (counted in drops_same_port).
import { graph, FromDevice, ToDevice, EtherSwitch } from 'pktgraph';

export default graph({ name: 'learning-switch', params: { dev0: 'veth0', dev1: 'veth1', dev2: 'veth2', timeout: 300 } }, (p) => {
  const sw = EtherSwitch({ timeout: p.timeout }, 'sw');
  [p.dev0, p.dev1, p.dev2].forEach((device, i) => {
    FromDevice({ device, promisc: true }, `rx${i}`).to(sw.in(i));
    sw.out(i).to(ToDevice({ device }, `tx${i}`));
  });
});
