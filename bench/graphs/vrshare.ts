// One virtual router of the vrouters suite's share-settling cases: paced frames of `length`
// bytes onto the shared port `port` (InfiniteSource -> ToPort) under the router's bandwidth
// share (bits/s).
import { graph, InfiniteSource, ToPort } from 'pktgraph';

export default graph({ name: 'vrshare', params: { port: 'bench', pps: 1000, length: 200, guarantee: 0, limit: 0, weight: 1 } }, (p) => {
  InfiniteSource({ data: 'ff'.repeat(6) + '020000000001' + '88b5', length: p.length, rate: p.pps }, 'src')
    .to(ToPort({ port: p.port, guarantee: p.guarantee, limit: p.limit, weight: p.weight }, 'out'));
});
