// The latency sink of the interface suites: a separate engine process in the sink namespace,
// FromDevice -> LatencyMeter (arrival = the kernel's receive time) -> Discard. It prints `ready`
// once receiving, runs until SIGTERM/SIGINT or SECONDS, then prints one JSON line with the
// LatencyMeter's figures (ns).
//
//   node --import tsx bench/suites/latency-sink.ts DEVICE SECONDS
import { graph, compile, Runtime, FromDevice, LatencyMeter, Discard } from 'pktgraph';

const [device, seconds] = process.argv.slice(2);
if (!device || !(Number(seconds) > 0)) {
  console.error('usage: latency-sink.ts DEVICE SECONDS');
  process.exit(2);
}
const rt = new Runtime({ threads: 1, poolBuffers: 8192 });
const g = rt.load(
  compile(
    graph('latency-sink', () => {
      // V3 blocks: the arrival is the kernel's receive time, so the sink's own delay does not count,
      // and blocks hold the most frames if the sink falls behind.
      FromDevice({ device, burst: 64, tpacketVersion: 3 }, 'rx').to(LatencyMeter({ offset: 42, arrival: 'annotation' }, 'lat')).to(Discard({}, 'sink'));
    }),
  ),
);
rt.start();
console.log('ready');
let done = false;
const finish = () => {
  if (done) return;
  done = true;
  const read = (h: string) => Number(g.read('lat', h));
  const out = {
    count: read('count'),
    p50: read('p50'),
    p99: read('p99'),
    p999: read('p999'),
    max: read('max'),
    min: read('min'),
    unstamped: Number(g.counter('lat', 'unstamped')),
    badStamp: Number(g.counter('lat', 'bad_stamp')),
  };
  rt.stop();
  g.remove();
  rt.close();
  console.log(JSON.stringify(out));
  process.exit(0);
};
process.on('SIGTERM', finish);
process.on('SIGINT', finish);
setTimeout(finish, Number(seconds) * 1000);
