// The path of bench/graphs/htbsched-2.ts through a plain Queue instead of HTBSched, for
// comparison:  pktgraph run bench/graphs/queue-baseline.ts -t 1 --profile
import { graph, InfiniteSource, Paint, Queue, Unqueue, Discard } from 'pktgraph';

export default graph({ name: 'queue-baseline', params: { packets: 20_000_000 } }, (p) => {
  const q = Queue({ capacity: 1000 }, 'q');
  InfiniteSource({ length: 64, burst: 32, limit: Number(p.packets) / 2 }, 'sa').to(Paint({ color: 1 }, 'pa')).to(q);
  InfiniteSource({ length: 64, burst: 32, limit: Number(p.packets) / 2 }, 'sb').to(Paint({ color: 2 }, 'pb')).to(q);
  q.to(Unqueue({ burst: 64 }, 'pump')).to(Discard({}, 'sink'));
});
