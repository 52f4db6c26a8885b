// The metrics suite's probe router: a paced generator on worker 0 -> TimestampStamp -> Queue ->
// Unqueue on worker 1 -> LatencyMeter -> Counter -> Discard. Every packet crosses from one
// worker to the other, so a stall of either (a scrape that paused the workers) shows as the
// queue's largest delay; generated - delivered - queue drops counts what was lost.
import { graph, InfiniteSource, TimestampStamp, Queue, Unqueue, LatencyMeter, Counter, Discard } from 'pktgraph';

export default graph({ name: 'gap-probe', params: { rate: 200000 } }, (p) => {
  InfiniteSource({ length: 64, rate: p.rate, burst: 32 }, { name: 'src', thread: 0 })
    .to(TimestampStamp({}, 'stamp'))
    .to(Queue({ capacity: 16384 }, 'q'))
    .to(Unqueue({ burst: 32 }, { name: 'pump', thread: 1 }))
    .to(LatencyMeter({}, 'lat'))
    .to(Counter({}, 'out'))
    .to(Discard({}, 'sink'));
});
