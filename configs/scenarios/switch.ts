// One switch net of a lab scenario (docs/scenarios.md, docs/switching.md): the lab hosts it as a
// virtual router `net-NET` of its engine. A VLANSwitch with a port per attached interface (the
// root ends of the nodes' veth pairs, opened promiscuous), then, when the net has them, a
// DHCPServer's port, a NAT gateway's port (configs/nat-gateway.ts, its outside on `natOut`, a
// veth into the uplink net) and a bridged host interface's port. The lab computes every param
// from the scenario (src/lab/scenario-schema.ts, switchLayout()): `devices` and `ports` as JSON
// (VLANSwitch's ports: one per device, then the services'), `mirror` as JSON, `dhcp` and `nat`
// as JSON or '' for none.
import { graph, VLANSwitch } from 'pktgraph';
import { devicePort, dhcpPort } from '../vswitch-host-only.js';
import { buildNatGateway } from '../nat-gateway.js';

export default graph({ name: 'scenario-switch', params: { devices: '[]', ports: '[]', mirror: '', dhcp: '', dhcpPort: -1, nat: '', natPort: -1, bridge: '', bridgePort: -1 } }, (p) => {
  const sw = VLANSwitch({ ports: JSON.parse(String(p.ports)), ...(p.mirror ? { mirror: JSON.parse(String(p.mirror)) } : {}) }, 'sw');
  (JSON.parse(String(p.devices)) as string[]).forEach((d, i) => devicePort(sw, i, d));
  if (p.dhcp) dhcpPort(sw, Number(p.dhcpPort), JSON.parse(String(p.dhcp)));
  if (p.nat) buildNatGateway(JSON.parse(String(p.nat)), { from: sw.out(Number(p.natPort)), to: sw.in(Number(p.natPort)) });
  if (p.bridge) devicePort(sw, Number(p.bridgePort), String(p.bridge));
});
