// Type-level checks, compiled with the project (`npm run build:ts`): each expect-error
// line below must be a TypeScript error, or the build fails ("Unused directive").
import { graph, InfiniteSource, Queue, Discard } from '../../src/index.js';

export default graph('types', () => {
  // @ts-expect-error unknown config field
  InfiniteSource({ burts: 4 }).to(Discard());
  // @ts-expect-error wrong type for a field
  InfiniteSource({ burst: 'four' }).to(Discard());
  // @ts-expect-error wrong type for a field
  Queue({ capacity: true });
  InfiniteSource({ burst: 4, length: 60 }).to(Queue({ capacity: 10 })).to(Discard());
});
