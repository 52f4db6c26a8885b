// An emulated WAN link between two network devices: the bridge of configs/bridge.ts with a
// LinkEmulator in each direction, each configured on its own (docs/link-emulation.md). Needs
// root (AF_PACKET: CAP_NET_RAW).
//
//   pktgraph lab up configs/lab-two-hosts.json        # lab 'demo': engine ends pg-demo-0b, pg-demo-1b
//   pktgraph run configs/emulated-link.ts -p rate=20000000 -p delay=0.02
//   pktgraph lab exec h1 -- ping 198.18.0.2           # about 40 ms round trip
//   pktgraph write ab.loss 1                          # 1% loss h1 -> h2; everything else stays
//   pktgraph lab down demo
//
// TPACKET_V2 receive rings: V3's block timer would add up to a kernel tick (4 ms) to each frame.
import { graph, FromDevice, ToDevice, LinkEmulator } from 'pktgraph';

export default graph({ name: 'emulated-link', params: { a: 'pg-demo-0b', b: 'pg-demo-1b', rate: 0, delay: 0.01, jitter: 0, loss: 0 } }, (p) => {
  const link = { rate: Number(p.rate), delay: Number(p.delay), jitter: Number(p.jitter), loss: Number(p.loss) };
  FromDevice({ device: String(p.a), promisc: true, tpacketVersion: 2 }, 'rxa').to(LinkEmulator(link, 'ab')).to(ToDevice({ device: String(p.b) }, 'txb'));
  FromDevice({ device: String(p.b), promisc: true, tpacketVersion: 2 }, 'rxb').to(LinkEmulator(link, 'ba')).to(ToDevice({ device: String(p.a) }, 'txa'));
});
