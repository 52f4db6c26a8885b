// The vrouters suite's save and restore cases: one virtual router with a full routing table.
// Generated 64 B IPv4/UDP frames (198.18.0.1 -> 198.19.0.1, `rate` packets/s) -> Strip(14) ->
// CheckIPHeader -> IPLookup over the route file `table` (`PREFIX GATEWAY OUTPUT` lines, outputs
// 0-3, all four into one DecIPTTL; a default route so every frame is forwarded) -> DecIPTTL ->
// Discard.
import { graph, InfiniteSource, Strip, CheckIPHeader, IPLookup, DecIPTTL, Discard } from 'pktgraph';

const FRAME = '020000000002' + '020000000001' + '0800' + '45000032000000004011ee93c6120001c6130001' + '04000009001e6f81' + '00'.repeat(22);

export default graph({ name: 'vrouter-full', params: { table: '', rate: 10000 } }, (p) => {
  const rt = InfiniteSource({ data: FRAME, rate: p.rate, burst: 32 }, 'src')
    .to(Strip({ length: 14 }, 'strip'))
    .to(CheckIPHeader({}, 'check'))
    .to(IPLookup({ file: p.table, routes: ['default 198.18.0.1 0'] }, 'rt'));
  const ttl = DecIPTTL({}, 'ttl');
  for (let o = 0; o < 4; o++) rt.out(o).to(ttl);
  ttl.to(Discard({}, 'sink'));
});
