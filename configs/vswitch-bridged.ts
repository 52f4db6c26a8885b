// Bridged networking, as hypervisors call it: virtual machines on a virtual switch together
// with a host interface (`uplink`, opened promiscuous), so they appear on the host's LAN as
// machines of their own and take their addresses from it (its DHCP server, or static ones).
//
//   vm0 ──┐
//   vm1 ──┤ VLANSwitch 'sw' ── uplink (the host's LAN)
//
// Try it in a lab (as root): namespaces vm1, vm2 and lan, each linked to the engine (ends
// pg-vsw2-0b, -1b, -2b, this graph's defaults), addresses in one subnet:
//
//   pktgraph run configs/vswitch-bridged.ts &
//   pktgraph lab exec vm1 -- ping -c 3 198.18.0.3       # vm1 -> the LAN, through the switch
//   pktgraph read sw.table
//
// test/vswitch-configs.test.ts runs it. The uplink carries VLAN 1 untagged; to bridge several
// VLANs to a trunk uplink, make its port { mode: 'trunk', allowed: [...] } (docs/switching.md).
import { graph, VLANSwitch } from 'pktgraph';
import { devicePort } from './vswitch-host-only.js';

export default graph({ name: 'vswitch-bridged', params: { vm0: 'pg-vsw2-0b', vm1: 'pg-vsw2-1b', uplink: 'pg-vsw2-2b' } }, (p) => {
  const sw = VLANSwitch({ ports: [{}, {}, {}] }, 'sw');
  devicePort(sw, 0, p.vm0);
  devicePort(sw, 1, p.vm1);
  devicePort(sw, 2, p.uplink);
});
