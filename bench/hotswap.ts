// Hot reconfiguration under load (RunningGraph.replace): packets lost and the forwarding gap.
//
//   flock /tmp/pktgraph-bench.lock npx tsx bench/hotswap.ts [--swaps N] [--rate PPS] [--settle MS]
//
// A paced generator (worker 0) -> TimestampStamp -> Counter -> Queue -> Unqueue (worker 1) ->
// LatencyMeter -> Counter -> Discard runs at --rate (default 500k packets/s, 64 B) and is
// replaced --swaps times (default 20) by a plan that differs (an extra Counter, a changed
// Queue capacity and Unqueue burst), --settle ms apart (default 200). Reported:
// - loss: generated - delivered - counted drops once drained, exactly (the target is 0);
// - swap: how long the control thread kept the workers off the graph (Engine::replace_graph,
//   from taking the old graph off the task lists to publishing the new one): an upper bound on
//   the forwarding gap, to within one worker round;
// - the largest delay through the queue in each settle window that contains a swap, beside the
//   same in windows without one (packets queued when the pump stopped wait out the gap);
// - the generator's shortfall in swap windows against quiet ones (packets its rate called for
//   that it could not send: a generator stopped longer than its bucket's depth, 32 packets,
//   falls short by the rest of the gap times the rate).
// Medians, and the maximum over all swaps (the target: 0 lost, gap at most 1 ms).
import { cpus, loadavg } from 'node:os';
import { graph, compile, Runtime, InfiniteSource, TimestampStamp, Counter, Queue, Unqueue, LatencyMeter, Discard, type RunningGraph } from '../src/index.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}
const swaps = arg('--swaps', 20);
const rate = arg('--rate', 500_000);
const settle = arg('--settle', 200);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const max = (xs: number[]) => Math.max(...xs);
const p90 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.9))];
const us = (ns: number) => `${(ns / 1e3).toFixed(1)} µs`;

const plan = (variant: boolean) =>
  compile(
    graph('hotswap-bench', () => {
      const out = InfiniteSource({ length: 64, rate, burst: 32 }, { name: 'src', thread: 0 })
        .to(TimestampStamp({}, 'stamp'))
        .to(Counter({}, 'in'))
        .to(Queue({ capacity: variant ? 32768 : 16384 }, 'q'))
        .to(Unqueue({ burst: variant ? 64 : 32 }, { name: 'pump', thread: 1 }))
        .to(LatencyMeter({}, 'lat'))
        .to(Counter({}, 'out'));
      (variant ? out.to(Counter({}, 'extra')) : out).to(Discard({}, 'sink'));
    }),
  );
const plans = [plan(false), plan(true)];

const rt = new Runtime({ threads: 2, poolBuffers: 65536 });
let g: RunningGraph = rt.load(plans[0]);
rt.start();
await sleep(500); // warm-up

const num = (el: string, c: string) => Number(g.counter(el, c));
// One settle window: the queue's largest delay and the generator's shortfall in it.
async function window(swap: boolean): Promise<{ maxDelay: number; shortfall: number; swapNs?: number }> {
  g.write('lat', 'reset', '');
  const short0 = num('src', 'rate_shortfall');
  let swapNs: number | undefined;
  await sleep(settle / 2);
  if (swap) {
    g = g.replace(g.plan === plans[0] ? plans[1] : plans[0]);
    swapNs = g.swap!.swapNs;
  }
  await sleep(settle / 2);
  return { maxDelay: Number(g.read('lat', 'max')), shortfall: num('src', 'rate_shortfall') - short0, swapNs };
}

const withSwap: Awaited<ReturnType<typeof window>>[] = [];
const quiet: Awaited<ReturnType<typeof window>>[] = [];
for (let i = 0; i < swaps; i++) {
  quiet.push(await window(false));
  withSwap.push(await window(true));
}
// Stop generating, drain, and count.
g.write('src', 'active', 'false');
await sleep(200);
const deadline = Date.now() + 10_000;
while (Number(g.read('q', 'length')) > 0 && Date.now() < deadline) await sleep(10);
const sent = num('src', 'packets');
const delivered = num('sink', 'packets');
const drops = num('q', 'drops');
rt.close();

const swapNs = withSwap.map((w) => w.swapNs!);
const line = (what: string, xs: number[], f: (x: number) => string) =>
  `  ${what.padEnd(44)} median ${f(median(xs)).padStart(10)}   p90 ${f(p90(xs)).padStart(10)}   max ${f(max(xs)).padStart(10)}`;
console.log(`hot reconfiguration under load: ${swaps} replacements, ${rate.toLocaleString('en')} packets/s of 64 B, 2 workers, ${settle} ms apart`);
console.log(`  machine: ${cpus().length} x ${cpus()[0]?.model}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}, ${new Date().toISOString()}`);
console.log(`  packets: ${sent.toLocaleString('en')} generated, ${delivered.toLocaleString('en')} delivered, ${drops} dropped (counted): lost ${sent - delivered - drops}`);
console.log(line('swap: workers off the graph (gap bound)', swapNs, us));
console.log(line('largest queue delay, windows with a swap', withSwap.map((w) => w.maxDelay), us));
console.log(line('largest queue delay, windows without', quiet.map((w) => w.maxDelay), us));
console.log(line('generator shortfall, windows with a swap', withSwap.map((w) => w.shortfall), (x) => `${x} pkts`));
console.log(line('generator shortfall, windows without', quiet.map((w) => w.shortfall), (x) => `${x} pkts`));
// The target holds for the longest gap; on a shared machine a worker descheduled during the
// swap's epoch stretches it, so the median and p90 are given beside it.
console.log(`  target: 0 packets lost, forwarding gap <= 1 ms: ${sent - delivered - drops === 0 && max(swapNs) <= 1e6 ? 'met' : 'missed'} (longest ${us(max(swapNs))})`);
