// HTBSched's cost per packet with two classes: 64 B frames from two unpaced sources, painted 1
// and 2, through a link of 1 Tbit/s with two leaves of 1 Gbit/s each (so both are always over
// their rate and borrow from the link: every packet takes the borrowing path), pulled by an
// Unqueue into Discard. One worker; the profile gives the element's own ns per packet:
//
//   pktgraph run bench/graphs/htbsched-2.ts -t 1 --profile
//
// (bench/graphs/queue-baseline.ts is the same path through a plain Queue.)
import { graph, InfiniteSource, Paint, HTBSched, Unqueue, Discard } from 'pktgraph';

export default graph({ name: 'htbsched-2', params: { packets: 20_000_000 } }, (p) => {
  const h = HTBSched(
    {
      classes: [
        { name: 'link', parent: 'root', rate: 1e12 },
        { name: 'a', parent: 'link', rate: 1e9, ceil: 1e12, match: 1 },
        { name: 'b', parent: 'link', rate: 1e9, ceil: 1e12, match: 2 },
      ],
    },
    'htb',
  );
  InfiniteSource({ length: 64, burst: 32, limit: Number(p.packets) / 2 }, 'sa').to(Paint({ color: 1 }, 'pa')).to(h);
  InfiniteSource({ length: 64, burst: 32, limit: Number(p.packets) / 2 }, 'sb').to(Paint({ color: 2 }, 'pb')).to(h);
  h.to(Unqueue({ burst: 64 }, 'pump')).to(Discard({}, 'sink'));
});
