// Host-only networking, as hypervisors call it: virtual machines on a virtual switch with the
// host, and a DHCP server handing them addresses; nothing reaches any other network. Here the
// "machines" are network devices (a VM's TAP, or a veth end in a lab), the host's side is a TAP
// device the graph creates (`hostTap`; give it the host's address, as VirtualBox's vboxnet0 has
// 192.168.56.1), and the DHCP server sits on a switch port of its own:
//
//   vm0 ──┐
//   vm1 ──┤ VLANSwitch 'sw' ── Tap 'host' (the host's interface)
//         └── port 3: IPClassifier 'dhcp_in': DHCP -> DHCPServer 'dhcp'        -> back to port 3
//                                            ARP for it -> ARPResponder 'dhcp_arp' -> back to port 3
//
// Try it in a lab (as root): `pktgraph lab up` a lab of two namespaces vm1 and vm2 linked to
// the engine without addresses (engine ends pg-vsw1-0b and pg-vsw1-1b, this graph's defaults),
// then
//
//   pktgraph run configs/vswitch-host-only.ts &
//   ip addr add 198.18.56.1/24 dev pg-vsw-host        # the host's address on the host-only net
//   pktgraph lab exec vm1 -- udhcpc -i pg-vsw1-0a -q -s SCRIPT   # an address from 198.18.56.100-199
//   pktgraph read dhcp.leases; pktgraph read sw.table
//
// test/vswitch-configs.test.ts runs it with real DHCP clients. All ports are access ports of
// VLAN 1; give `ports` entries to VLANSwitch for VLANs, ACLs or a mirror (docs/switching.md).
import { graph, FromDevice, ToDevice, Tap, VLANSwitch, IPClassifier, DHCPServer, ARPResponder, Discard } from 'pktgraph';
import type { ElementNode } from 'pktgraph';

/** A network device on switch port i (AF_PACKET, promiscuous: the switch sees every frame; the
 *  802.1Q tag the kernel takes off is written back, as VLANSwitch reads tags from the frame). */
export function devicePort(sw: ElementNode, i: number, device: string) {
  FromDevice({ device, promisc: true, restoreVlan: true }, `rx${i}`).to(sw.in(i));
  sw.out(i).to(ToDevice({ device }, `tx${i}`));
}

/** A DHCP server on switch port i: DHCP requests go to it and ARP requests for its address to
 *  an ARPResponder (clients renew and release by unicast), their answers back into the port;
 *  every other frame the switch floods there ends in the Discard 'dhcp_other'. */
export function dhcpPort(sw: ElementNode, i: number, config: NonNullable<Parameters<typeof DHCPServer>[0]>) {
  const ip = config.address.split('/')[0];
  const c = sw.out(i).to(IPClassifier({ patterns: ['udp dst port 67', `arp dst host ${ip}`, '-'] }, 'dhcp_in'));
  c.out(0).to(DHCPServer(config, 'dhcp')).to(sw.in(i));
  c.out(1).to(ARPResponder({ entries: [`${ip} ${config.mac}`] }, 'dhcp_arp')).to(sw.in(i));
  c.out(2).to(Discard({}, 'dhcp_other'));
}

export const dhcpParams = {
  dhcpAddress: '198.18.56.2/24',
  dhcpMac: '02:00:00:00:56:02',
  poolStart: '198.18.56.100',
  poolEnd: '198.18.56.199',
  router: '',
  dns: '',
  leaseTime: 3600,
};

export const dhcpConfig = (p: typeof dhcpParams) => ({
  address: p.dhcpAddress,
  mac: p.dhcpMac,
  poolStart: p.poolStart,
  poolEnd: p.poolEnd,
  router: p.router,
  dns: p.dns ? p.dns.split(',') : [],
  leaseTime: Number(p.leaseTime),
});

export default graph({ name: 'vswitch-host-only', params: { vm0: 'pg-vsw1-0b', vm1: 'pg-vsw1-1b', hostTap: 'pg-vsw-host', hostMac: '', ...dhcpParams } }, (p) => {
  const sw = VLANSwitch({ ports: [{}, {}, {}, {}] }, 'sw');
  devicePort(sw, 0, p.vm0);
  devicePort(sw, 1, p.vm1);
  const host = Tap({ device: p.hostTap, mac: p.hostMac }, 'host');
  sw.out(2).to(host).to(sw.in(2));
  dhcpPort(sw, 3, dhcpConfig(p));
});
