// A NAT gateway between an inside network and an outside one, in the spirit of Click's
// two-interface IP router with an IPRewriter in the middle. Inside hosts reach the outside
// through source NAT (masquerade: they appear as the gateway's outside address, with ports the
// gateway hands out); outside hosts reach inside servers only through the port forwards in
// `forward`. The gateway answers ARP and ping on both of its addresses, decrements TTLs and
// sends time-exceeded errors both ways, and net-unreachable errors to inside hosts when no
// route leads out. Needs root (AF_PACKET).
//
// Try it in a lab (as root): `inside` (198.18.1.1, default route via the gateway's 198.18.1.254)
// and `outside` (198.18.2.2, no route to the inside at all: only NAT lets it answer); the lab
// id is fixed, so the engine's ends are pg-nat1-0b and pg-nat1-1b, this graph's defaults:
//
//   pktgraph lab up configs/lab-nat.json
//   pktgraph run configs/nat-gateway.ts &
//   pktgraph lab exec inside -- ping -c 3 198.18.2.2          # through NAT
//   pktgraph lab exec outside -- python3 -m http.server -b 198.18.2.2 8000 &
//   pktgraph lab exec inside -- curl -s 198.18.2.2:8000/ > /dev/null   # its log shows 198.18.2.254
//   pktgraph read nat.table                                    # the mappings
//   pktgraph lab exec inside -- python3 -m http.server -b 198.18.1.1 80 &
//   pktgraph lab exec outside -- curl -s 198.18.2.254:8080/    # the port forward to inside:80
//   pktgraph lab down nat1
//
// Params: each interface's device, address, prefix length and MAC address (the gateway's own,
// locally administered: the device is opened promiscuous and HostEtherFilter keeps the frames
// for it); `upstream`, the outside next hop for everything beyond the outside subnet ('' for
// none: such destinations get net unreachable); `forward`, port forwards as comma-separated
// 'PROTO PORT INSIDE-ADDRESS [INSIDE-PORT]' ('' for none).
//
//   FromDevice -> HostEtherFilter -> Classifier: ARP request -> ARPResponder -> ToDevice
//                                                ARP reply   -> ARPQuerier[1]
//                                                IPv4        -> Strip(14) -> CheckIPHeader -> ...
//   inside:  ... -> rt_in: the gateway      -> local
//                          the inside net   -> (dropped: hosts there talk directly)
//                          elsewhere        -> DecIPTTL -> nat[0] (snat) -> to_out
//                          no route         -> ICMPError(unreachable net) -> to_in
//   outside: ... -> nat[1] (dnat) -> mapped or forwarded -> DecIPTTL -> to_in
//                                 -> nothing mapped     -> to the gateway? -> local
//   local:   ICMPPingResponder -> back by the replies' destination, to_in or to_out
//   to_in, to_out: IPLookup (next hop) -> ARPQuerier -> ToDevice
// A time-exceeded error about a packet coming in goes through nat[0] like inside traffic, so
// the packet it quotes is translated back to what the outside host sent.
import { graph, FromDevice, ToDevice, HostEtherFilter, Classifier, ARPResponder, ARPQuerier, Strip, CheckIPHeader, IPLookup, DecIPTTL, ICMPError, ICMPPingResponder, IPRewriter, Discard } from 'pktgraph';
import type { OutputPort, InputPort } from 'pktgraph';

type Forward = { proto: 'tcp' | 'udp'; port: number; to: string; toPort?: number };

/** 'tcp 8080 198.18.1.1 80, udp 5353 198.18.1.1' -> port forwarding rules. */
function parseForwards(text: string): Forward[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      const [proto, port, to, toPort, extra] = s.split(/\s+/);
      if ((proto !== 'tcp' && proto !== 'udp') || !port || !to || extra !== undefined)
        throw new Error(`nat-gateway: forward '${s}' is not 'tcp|udp PORT INSIDE-ADDRESS [INSIDE-PORT]'`);
      return { proto, port: Number(port), to, ...(toPort ? { toPort: Number(toPort) } : {}) };
    });
}

/** '198.18.1.254', 24 -> '198.18.1.0/24' */
function subnet(addr: string, len: number): string {
  const n = addr.split('.').reduce((a, b) => a * 256 + Number(b), 0);
  const net = len === 0 ? 0 : n - (n % 2 ** (32 - len));
  return `${[24, 16, 8, 0].map((s) => Math.floor(net / 2 ** s) % 256).join('.')}/${len}`;
}

export const natGatewayParams = {
  inDev: 'pg-nat1-0b',
  inAddr: '198.18.1.254',
  inPrefix: 24,
  inMac: '02:00:00:00:01:fe',
  outDev: 'pg-nat1-1b',
  outAddr: '198.18.2.254',
  outPrefix: 24,
  outMac: '02:00:00:00:02:fe',
  upstream: '',
  forward: 'tcp 8080 198.18.1.1 80',
};
export type NatGatewayParams = typeof natGatewayParams;

/** The gateway's elements inside the current graph; `inside`, when given, replaces the inside
 *  device (FromDevice and ToDevice on inDev) by a port pair, such as a switch port
 *  (configs/vswitch-nat.ts). */
export function buildNatGateway(p: NatGatewayParams, inside?: { from: OutputPort; to: InputPort }) {
  const inNet = subnet(p.inAddr, p.inPrefix);
  const outNet = subnet(p.outAddr, p.outPrefix);
  const forwards = parseForwards(p.forward);

  // ---- devices, ARP, IPv4 in ----
  const txIn = inside ? inside.to : ToDevice({ device: p.inDev }, 'tx_in');
  const txOut = ToDevice({ device: p.outDev }, 'tx_out');
  const arpqIn = ARPQuerier({ ip: p.inAddr, mac: p.inMac }, 'arpq_in');
  const arpqOut = ARPQuerier({ ip: p.outAddr, mac: p.outMac }, 'arpq_out');
  arpqIn.to(txIn);
  arpqOut.to(txOut);
  const arpAndIp = ['12/0806 20/0001', '12/0806 20/0002', '12/0800', '-'];
  const rxIn = inside ? inside.from : FromDevice({ device: p.inDev, promisc: true }, 'rx_in').out(0);
  const cIn = rxIn.to(HostEtherFilter({ mac: p.inMac }, 'filter_in')).to(Classifier({ patterns: arpAndIp }, 'c_in'));
  const cOut = FromDevice({ device: p.outDev, promisc: true }, 'rx_out').to(HostEtherFilter({ mac: p.outMac }, 'filter_out')).to(Classifier({ patterns: arpAndIp }, 'c_out'));
  cIn.out(0).to(ARPResponder({ entries: [`${p.inAddr} ${p.inMac}`] }, 'arpr_in')).to(txIn);
  cOut.out(0).to(ARPResponder({ entries: [`${p.outAddr} ${p.outMac}`] }, 'arpr_out')).to(txOut);
  cIn.out(1).to(arpqIn.in(1));
  cOut.out(1).to(arpqOut.in(1));
  cIn.out(3).to(Discard({}, 'non_ip_in'));
  cOut.out(3).to(Discard({}, 'non_ip_out'));
  const ipIn = cIn.out(2).to(Strip({ length: 14 })).to(CheckIPHeader({}, 'check_in'));
  const ipOut = cOut.out(2).to(Strip({ length: 14 })).to(CheckIPHeader({}, 'check_out'));

  // ---- towards each interface: next hop, then ARP ----
  const toIn = IPLookup({ routes: [`${inNet} dev 0`] }, 'to_in');
  toIn.to(arpqIn);
  const toOut = IPLookup({ routes: [`${outNet} dev 0`, ...(p.upstream ? [`default via ${p.upstream} dev 0`] : [])] }, 'to_out');
  toOut.to(arpqOut);

  // ---- the NAT: input 0 from the inside, input 1 from the outside ----
  // Output 0 leads out, output 1 in, output 2 gets what the outside sent that no mapping or
  // forward covers.
  const nat = IPRewriter(
    {
      inputs: [
        { kind: 'snat', address: p.outAddr, forward: 0, reply: 1 },
        forwards.length ? { kind: 'dnat', rules: forwards, forward: 1, reply: 0, pass: 2 } : { kind: 'pass', output: 2 },
      ],
    },
    'nat',
  );
  nat.out(0).to(toOut);

  // ---- local delivery: ping answered, the rest dropped ----
  const ping = ICMPPingResponder({}, 'ping');
  const back = IPLookup({ routes: [`${inNet} dev 0`, `${outNet} dev 1`, ...(p.upstream ? [`default via ${p.upstream} dev 1`] : [])] }, 'rt_local');
  ping.out(0).to(back);
  ping.out(1).to(Discard({}, 'local_other'));
  back.out(0).to(toIn);
  back.out(1).to(toOut);

  // ---- from the inside ----
  const rtIn = IPLookup(
    {
      routes: [`${p.inAddr}/32 dev 0`, `${p.outAddr}/32 dev 0`, `${inNet} dev 1`, `${outNet} dev 2`, p.upstream ? `default via ${p.upstream} dev 2` : 'default dev 3'],
    },
    'rt_in',
  );
  ipIn.to(rtIn);
  rtIn.out(0).to(ping);
  rtIn.out(1).to(Discard({}, 'inside_to_inside'));
  const ttlOut = rtIn.out(2).to(DecIPTTL({}, 'ttl_out'));
  ttlOut.to(nat.in(0));
  ttlOut.out(1).to(ICMPError({ src: p.inAddr, type: 'timeexceeded' }, 'expired_out')).to(toIn);
  rtIn.out(3).to(ICMPError({ src: p.inAddr, type: 'unreachable', code: 'net' }, 'unreachable')).to(toIn);

  // ---- from the outside ----
  ipOut.to(nat.in(1));
  const ttlIn = nat.out(1).to(DecIPTTL({}, 'ttl_in'));
  ttlIn.to(toIn);
  // The error quotes the translated packet: through nat[0] it is translated back.
  ttlIn.out(1).to(ICMPError({ src: p.outAddr, type: 'timeexceeded' }, 'expired_in')).to(nat.in(0));
  const forUs = IPLookup({ routes: [`${p.outAddr}/32 dev 0`, `${p.inAddr}/32 dev 0`, 'default dev 1'] }, 'rt_out');
  nat.out(2).to(forUs);
  forUs.out(0).to(ping);
  forUs.out(1).to(Discard({}, 'unsolicited'));
}

export default graph({ name: 'nat-gateway', params: natGatewayParams }, (p) => buildNatGateway(p));
