// The startup suite's full-table router (bench/suites/startup.ts): IPLookup loads a routes file
// (`prefix/len nexthop-index` per line, gzip when it ends in .gz; the 902k Internet table) in the
// native side, with one output per next-hop index (256) and a default route; generated IPv4
// frames are routed, and every output goes into a pcap file whose first record's timestamp
// tells when the first packet was forwarded.
import { graph, InfiniteSource, Strip, CheckIPHeader, IPLookup, ToPcap } from 'pktgraph';

// A 64-byte Ethernet/IPv4/UDP frame (198.18.0.1 -> 198.19.0.1), checksums right.
const FRAME = '020000000002' + '020000000001' + '0800' + '45000032000000004011ee93c6120001c6130001' + '04000009001e6f81' + '00'.repeat(22);

export default graph({ name: 'router-902k', params: { routes: '', outputs: 256, packets: 1000, pcap: '/dev/null' } }, (p) => {
  const rt = IPLookup({ file: p.routes, routes: ['default 0'] }, 'rt');
  InfiniteSource({ data: FRAME, limit: p.packets }, 'source').to(Strip({ length: 14 }, 'strip')).to(CheckIPHeader({}, 'check')).to(rt);
  const out = ToPcap({ file: p.pcap, nanosecond: true }, 'out');
  for (let o = 0; o < p.outputs; o++) rt.out(o).to(out);
});
