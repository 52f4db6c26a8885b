// NAT networking, as hypervisors call it: virtual machines on a virtual switch with a DHCP
// server and a gateway that masquerades them behind the host's uplink address (IPRewriter), so
// they reach the outside and nothing outside reaches them (but the gateway's port forwards).
// The gateway is configs/nat-gateway.ts with its inside device replaced by a switch port.
//
//   vm0 ──┐
//   vm1 ──┤ VLANSwitch 'sw' ── port 2: DHCPServer 'dhcp' (router option: the gateway)
//         └── port 3: the NAT gateway (198.18.1.254) ── uplink (198.18.2.254) ── outside
//
// Try it in a lab (as root): namespaces vm1 and vm2 linked to the engine without addresses
// (ends pg-vsw3-0b, -1b) and `wan` linked with 198.18.2.2/24 (end pg-vsw3-2b):
//
//   pktgraph run configs/vswitch-nat.ts &
//   pktgraph lab exec vm1 -- udhcpc -i pg-vsw3-0a -q -s SCRIPT     # 198.18.1.100-199, default route
//   pktgraph lab exec vm1 -- ping -c 3 198.18.2.2                  # through NAT
//   pktgraph read nat.table
//
// test/vswitch-configs.test.ts runs it with a real DHCP client.
import { graph, VLANSwitch } from 'pktgraph';
import { devicePort, dhcpPort, dhcpConfig, dhcpParams } from './vswitch-host-only.js';
import { buildNatGateway, natGatewayParams } from './nat-gateway.js';

export default graph(
  {
    name: 'vswitch-nat',
    params: {
      vm0: 'pg-vsw3-0b',
      vm1: 'pg-vsw3-1b',
      ...natGatewayParams,
      inDev: '',
      outDev: 'pg-vsw3-2b',
      forward: '',
      ...dhcpParams,
      dhcpAddress: '198.18.1.253/24',
      dhcpMac: '02:00:00:00:01:fd',
      poolStart: '198.18.1.100',
      poolEnd: '198.18.1.199',
      router: '198.18.1.254',
    },
  },
  (p) => {
    const sw = VLANSwitch({ ports: [{}, {}, {}, {}] }, 'sw');
    devicePort(sw, 0, p.vm0);
    devicePort(sw, 1, p.vm1);
    dhcpPort(sw, 2, dhcpConfig(p));
    buildNatGateway(p, { from: sw.out(3), to: sw.in(3) });
  },
);
