// A shaped uplink: frames from `a` leave on `b` through an HTBSched holding them to `rate`
// (bits/s), shared by two classes: 'guaranteed' (traffic to or from TCP/UDP port `port`) always
// gets `guaranteed` bits/s when it wants it, 'besteffort' (everything else) at least the rest of
// the link, and each borrows what the other leaves unused, up to the whole link. Frames from `b`
// go back to `a` unshaped. Needs root (AF_PACKET: CAP_NET_RAW).
//
// Try it in a lab (as root), with the two hosts of configs/lab-two-hosts.json, h1 (198.18.0.1) on
// the shaped side and iperf3 servers on h2 (198.18.0.2):
//
//   pktgraph lab up configs/lab-two-hosts.json        # lab 'demo': engine ends pg-demo-0b, pg-demo-1b
//   pktgraph run configs/shaped-uplink.ts &           # -p rate=20e6 -p guaranteed=15e6 to change them
//   pktgraph lab exec h2 -- iperf3 -s -p 5201 -D; pktgraph lab exec h2 -- iperf3 -s -p 5202 -D
//   pktgraph lab exec h1 -- iperf3 -c 198.18.0.2 -p 5202 -t 30 &   # best effort alone: about 10 Mbit/s
//   pktgraph lab exec h1 -- iperf3 -c 198.18.0.2 -p 5201 -t 10     # guaranteed: 6 Mbit/s and more,
//                                                                  # best effort drops to about 4
//   pktgraph read shaper.classes                      # rates, backlog, packets, drops, borrowed per class
//   pktgraph write shaper.change '{"name":"guaranteed","rate":8e6}'   # re-rated while it runs
//   pktgraph lab down demo
//
// (Sharing the spare: each class over its rate takes the unused capacity in proportion to its
// weight, 1 each here. TCP's own control loop sees the queue as a bottleneck of that rate.)
import { graph, FromDevice, ToDevice, IPClassifier, Paint, HTBSched } from 'pktgraph';

export default graph(
  { name: 'shaped-uplink', params: { a: 'pg-demo-0b', b: 'pg-demo-1b', rate: 10e6, guaranteed: 6e6, port: 5201 } },
  (p) => {
    const rate = Number(p.rate);
    // 10 ms of the link's rate as every bucket's depth: more than the default (1 ms), so a worker
    // kept off its CPU for a few ms by a busy machine loses no credit.
    const burst = Math.round(rate / 8 / 100);
    const shaper = HTBSched(
      {
        default: 'besteffort',
        overhead: 24, // Ethernet's preamble, start delimiter, gap and FCS: the rate is the wire's
        classes: [
          { name: 'uplink', parent: 'root', rate, burst, cburst: burst },
          { name: 'guaranteed', parent: 'uplink', rate: Number(p.guaranteed), ceil: rate, burst, cburst: burst, match: 1 },
          { name: 'besteffort', parent: 'uplink', rate: rate - Number(p.guaranteed), ceil: rate, burst, cburst: burst },
        ],
      },
      'shaper',
    );
    const cl = IPClassifier({ patterns: [`port ${Number(p.port)}`, '-'] }, 'classify');
    FromDevice({ device: String(p.a) }, 'rxa').to(cl);
    cl.out(0).to(Paint({ color: 1 })).to(shaper);
    cl.out(1).to(shaper); // paint 0: no match, the default class
    shaper.to(ToDevice({ device: String(p.b) }, 'txb'));
    FromDevice({ device: String(p.b) }, 'rxb').to(ToDevice({ device: String(p.a) }, 'txa'));
  },
);
