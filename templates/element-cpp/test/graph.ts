// Two generators through __NAME__: 100 packets long enough to pass, 30 too short.
import { Discard, graph, InfiniteSource } from 'pktgraph';
import { __NAME__ } from '../index.js';

export default graph('__LIB___test', () => {
  InfiniteSource({ length: 100, limit: 100 }).to(__NAME__({ minLength: 64 }, 'long')).to(Discard());
  InfiniteSource({ length: 20, limit: 30 }).to(__NAME__({ minLength: 64 }, 'short')).to(Discard());
});
