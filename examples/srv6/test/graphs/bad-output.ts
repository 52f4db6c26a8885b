// A SID sent to an output the element lacks: refused by the descriptor's check, naming it.
import { Discard, graph, InfiniteSource } from 'pktgraph';
import { SRv6LocalSIDs } from '../../index.js';

export default graph('srv6-bad-output', () => {
  const sids = InfiniteSource({ limit: 1 }).to(SRv6LocalSIDs({ sids: [{ sid: 'fd00::1', behavior: 'End', output: 5 }] }, 'sids'));
  sids.out(0).to(Discard());
  sids.out(1).to(Discard());
});
