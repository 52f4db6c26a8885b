// The default graph for `npm start`: a built-in generator through a classifier-free
// pipeline into Discard. Needs no root and no devices.
import { graph, InfiniteSource, Counter, Discard } from 'pktgraph';

export default graph({ name: 'default', params: { length: 64, rate: 0 } }, (p) => {
  InfiniteSource({ length: p.length, rate: p.rate }, 'source').to(Counter({}, 'counter')).to(Discard({}, 'sink'));
});
