// The default graph for `npm start`: the built-in generator (64-byte frames, as fast as it
// can, or at `rate` packets per second) through a Counter into Discard. Needs no root and
// no devices. Try: pktgraph run configs/default.ts -p rate=1000000
import { graph, InfiniteSource, Counter, Discard } from 'pktgraph';

export default graph({ name: 'default', params: { length: 64, rate: 0 } }, (p) => {
  InfiniteSource({ length: p.length, rate: p.rate, burst: 64 }, 'source').to(Counter({}, 'counter')).to(Discard({}, 'sink'));
});
