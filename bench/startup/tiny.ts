// The startup suite's tiny graph (bench/suites/startup.ts): 1000 generated 64-byte frames into
// a pcap file, whose first record's timestamp (the worker's wall clock) tells when the first
// packet went through.
import { graph, InfiniteSource, ToPcap } from 'pktgraph';

export default graph({ name: 'tiny', params: { packets: 1000, pcap: '/dev/null' } }, (p) => {
  InfiniteSource({ length: 64, limit: p.packets }, 'source').to(ToPcap({ file: p.pcap, nanosecond: true }, 'out'));
});
