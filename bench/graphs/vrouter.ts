// One virtual router of the vrouters bench suite: generated 64 B IPv4/UDP frames (198.18.0.1 ->
// 198.19.0.1) -> Strip(14) -> CheckIPHeader -> IPLookup over `routes` routes (/26s inside
// 198.19.0.0/16, the frames hit the first; then a default) -> DecIPTTL -> Discard.
// The routes go to 16 gateways in turn, as a router's routes do: when they all had the default
// route's next hop (until 2026-12-02), the LPM table merged them into the default and held 4
// nodes, so "1000 routes" measured an almost empty table.
// `rate` 0 sends as fast as the worker lets it (the suite's cost cases), else packets/s.
import { graph, InfiniteSource, Strip, CheckIPHeader, IPLookup, DecIPTTL, Discard } from 'pktgraph';

const FRAME = '020000000002' + '020000000001' + '0800' + '45000032000000004011ee93c6120001c6130001' + '04000009001e6f81' + '00'.repeat(22);

export default graph({ name: 'vrouter', params: { routes: 1000, rate: 0, burst: 32 } }, (p) => {
  const routes: string[] = [];
  for (let i = 0; i < p.routes; i++) routes.push(`198.19.${(i >> 2) & 255}.${(i & 3) * 64}/26 via 198.18.1.${1 + (i % 16)} dev 0`);
  routes.push('default dev 0');
  InfiniteSource({ data: FRAME, rate: p.rate, burst: p.burst }, 'src')
    .to(Strip({ length: 14 }, 'strip'))
    .to(CheckIPHeader({}, 'check'))
    .to(IPLookup({ routes }, 'rt'))
    .to(DecIPTTL({}, 'ttl'))
    .to(Discard({}, 'sink'));
});
