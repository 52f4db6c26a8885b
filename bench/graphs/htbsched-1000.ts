// HTBSched's cost per packet with a 3-level tree of 1000 leaves: link (1 Tbit/s) -> 10 tenants
// (10 Gbit/s each) -> 100 leaves each (1 Mbit/s each, so every leaf is over its rate and borrows
// from its tenant), keyed by table_id. 64 B frames of 1000 UDP flows in turn (source ports
// 0..999, which SetTableID makes the table id), so consecutive packets go to different leaves
// and most pushes activate a leaf and most pulls empty one. One worker:
//
//   pktgraph run bench/graphs/htbsched-1000.ts -t 1 --profile
import { graph, FlowSource, SetTableID, HTBSched, Unqueue, Discard } from 'pktgraph';

export default graph({ name: 'htbsched-1000', params: { packets: 20_000_000 } }, (p) => {
  const classes: { name: string; parent: string; rate: number; ceil?: number; match?: number; capacity?: number }[] = [{ name: 'link', parent: 'root', rate: 1e12 }];
  for (let i = 0; i < 10; i++) {
    classes.push({ name: `t${i}`, parent: 'link', rate: 1e10, ceil: 1e12 });
    for (let j = 0; j < 100; j++) classes.push({ name: `t${i}-${j}`, parent: `t${i}`, rate: 1e6, ceil: 1e12, match: i * 100 + j, capacity: 64 });
  }
  const h = HTBSched({ key: 'table_id', classes }, 'htb');
  FlowSource({ flows: 1000, srcPort: 0, length: 64, burst: 32, limit: Number(p.packets) }, 'src').to(SetTableID({ offset: 34 }, 'tid')).to(h);
  h.to(Unqueue({ burst: 64 }, 'pump')).to(Discard({}, 'sink'));
});
